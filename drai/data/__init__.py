"""Data paths: LIDC-IDRI annotations, DICOM series, patches."""
