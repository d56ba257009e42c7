"""DRAI reproduction library."""
