"""The data layer: the dataset registry, the patch-set contract, downloads, and one package per dataset."""
