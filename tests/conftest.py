import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def ci_config():
    """The resolved config of the ci preset (:func:`toys.ci_config`): settings dataclasses have no defaults, so
    tests build them from it and change the fields they test with dataclasses.replace."""
    from toys import ci_config

    return ci_config()


@pytest.fixture
def make_patch_set():
    """A factory of toy patch sets, built through :class:`drai.data.patchset.PatchSet`
    (:func:`toys.toy_patch_set`): ``make_patch_set("lidc", n=6)``."""
    from toys import toy_patch_set

    return toy_patch_set
