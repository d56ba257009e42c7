import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def ci_config():
    """The resolved config of the ci preset: settings dataclasses have no defaults, so tests build them
    from it (drai.settings) and change the fields they test with dataclasses.replace."""
    from drai.config import resolve

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())
    return resolve({**config, "preset": "ci"})


@pytest.fixture
def make_patch_set():
    """A factory of toy patch sets, built through :class:`drai.data.patchset.PatchSet`
    (:func:`toys.toy_patch_set`): ``make_patch_set("lidc", n=6)``."""
    from toys import toy_patch_set

    return toy_patch_set
