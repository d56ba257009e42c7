"""Toy: discs and squares on a background of varying brightness, a dataset package outside ``drai/``."""
