"""The known factors of a dataset's synthetic data, one row per patch of ``patches.npz`` (row ``row``).

A synthetic renderer draws every image from named factors: the one place
where what a style or content code should hold is known. A dataset declares
its factors and the keys of a row (:attr:`drai.data.registry.Dataset.factors`,
``factor_keys``); its package's ``factors`` module reads them from what its
renderer recorded and returns the table through :func:`ordered`; its rule file
writes ``data/<key>/factors.csv``, which the ground-truth audit reads
(docs/beyond-the-paper.md). Real data has no such factors: :func:`synthetic_patches`
refuses it. A dataset without factors has no ground-truth audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from drai.data.patchset import PatchSet
from drai.data.registry import get_dataset


@dataclass(frozen=True)
class Factor:
    name: str
    group: str  # style | content: the code that should hold it
    kind: str = "continuous"  # continuous (R^2) | discrete (balanced accuracy)


class NoFactorsError(ValueError):
    """The data is not synthetic: nothing is known of its factors."""


def no_factors_message(dataset: str, source: str) -> str:
    return (
        f"{dataset}: source {source!r} is real data, whose generative factors are unknown; "
        "the ground-truth disentanglement needs the embedded synthetic data (source: synthetic)"
    )


def synthetic_patches(patches_path: str | Path, dataset: str) -> PatchSet:
    """The patch set a factor table is made for; refused unless it is synthetic."""
    patches = PatchSet.load(patches_path, dataset)
    if patches.source != "synthetic":
        raise NoFactorsError(no_factors_message(dataset, patches.source))
    return patches


def ordered(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """``frame`` as a factor table: the dataset's row keys, then its factors, in its order, by row."""
    spec = get_dataset(dataset)
    columns = list(spec.factor_keys) + [factor.name for factor in spec.factors]
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{dataset}: the factor table lacks the declared columns {missing}")
    return frame.sort_values("row").reset_index(drop=True)[columns]


def read_factor_table(path: str | Path, dataset: str) -> pd.DataFrame:
    """A ``factors.csv`` as :func:`ordered` wrote it; the row keys other than ``row`` are identifiers, read as
    text (a case or image id of digits stays as written)."""
    keys = get_dataset(dataset).factor_keys
    return pd.read_csv(path, dtype={key: str for key in keys if key != "row"})
