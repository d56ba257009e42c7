"""HAM10000: raw files (rendered, Dataverse, DermaMNIST), lesion patches and the patch set."""
