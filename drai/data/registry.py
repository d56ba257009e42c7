"""The datasets: everything that differs between them, declared in one place per dataset.

A dataset is a package ``drai/data/<key>/`` whose module ``dataset.py`` defines
``DATASET``, an instance of a :class:`Dataset` subclass: its names, channels,
the fields its patch sets add to the common ones (:mod:`drai.data.patchset`),
and the selections every reader needs. Readers (training, evaluation, figures,
audit, tables, the ``drai`` command) look the dataset up here and never branch
on its name. Adding a dataset means one such package plus its config section and
the rules that make its ``patches.npz``; the packages are found by looking,
not by a list to edit.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

import drai.data

if TYPE_CHECKING:
    from drai.data.patchset import PatchSet


@dataclass(frozen=True)
class Field:
    """A field a dataset adds to the common ones: one value per row, or (``per_row`` False) one for the set.

    ``default`` (rows -> array) fills the field in for a patch set written
    before the field existed; None makes the field required.
    """

    name: str
    meaning: str
    default: Callable[[int], np.ndarray] | None = None
    per_row: bool = True  # False: one value for the set (e.g. HAM10000's class names)


@dataclass(frozen=True)
class EvaluationSelection:
    """Rows (boolean masks) and evaluator labels of a patch set's evaluation (Section III-C).

    ``model_*``: what the generative models are trained on and judged against;
    ``evaluator_*``: the evaluator's own training and test rows.
    """

    class_names: tuple[str, ...]
    labels: np.ndarray
    model_train: np.ndarray
    model_test: np.ndarray
    evaluator_train: np.ndarray
    evaluator_test: np.ndarray


@dataclass(frozen=True)
class FigureSelection:
    """What the figures show of a patch set: test rows, query rows (retrieval), and how images are labelled."""

    test: np.ndarray  # boolean mask
    query: np.ndarray  # boolean mask; all False where the dataset has no retrieval queries
    note: str  # which images the test rows are
    groups: np.ndarray  # (N,) group index per row (size bin, class)
    group_names: tuple[str, ...]
    captions: list[str]  # a short label per row
    sizes: np.ndarray | None = None  # a size per row (mm), where the dataset has one
    warning: str = ""  # why the rows are not the usual ones (the reader logs it)


class Dataset:
    """What one dataset declares. Subclasses set the class attributes and implement the selections."""

    key: str  # config section and wildcard value: "lidc"
    name: str  # in tables and captions: "LIDC"
    full_name: str  # in figures: "LIDC-IDRI"
    channels: int
    fields: tuple[Field, ...]  # per-row (and per-set) fields beyond the common ones
    retrieval: bool = False  # whether Table IV's retrieval is defined on it
    order: int = 100  # where tables and figures put it (the paper's order: LIDC, then HAM10000)

    def vector_names(self, patches: PatchSet) -> tuple[str, ...]:
        """A name per dimension of the conditioning vector."""
        raise NotImplementedError

    def contract_errors(self, patches: PatchSet) -> list[str]:
        """What breaks this dataset's own part of the patch-set contract (its vector width, its labels),
        one sentence each; the common part is :func:`drai.data.patchset.contract_errors`'s."""
        return []

    def training_rows(self, patches: PatchSet) -> np.ndarray:
        """Boolean mask of the rows the generative models are trained on."""
        raise NotImplementedError

    def model_rows(self, patches: PatchSet) -> np.ndarray:
        """Boolean mask of the rows whose vectors the models are conditioned on (the ``drai`` command)."""
        return np.ones(len(patches), bool)

    def evaluation(self, patches: PatchSet, labels: str, evaluator_slices: str = "all") -> EvaluationSelection:
        """The evaluation's rows and the evaluator's labels; ``labels`` is ``evaluate.lidc_labels``,
        ``evaluator_slices`` ``evaluate.lidc_evaluator_slices`` (datasets without slices ignore both)."""
        raise NotImplementedError

    def evaluator_labels(self, patches: PatchSet, labels: str, evaluator_slices: str = "all") -> str:
        """What the evaluator classifies and on which images, in words (its report and the captions)."""
        raise NotImplementedError

    def figure_selection(self, patches: PatchSet) -> FigureSelection:
        raise NotImplementedError

    def retrieval_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of Table IV's query and search sets."""
        raise ValueError(f"{self.name}: no retrieval sets (Table IV is defined on LIDC)")

    def retrieval_attributes(self, patches: PatchSet, rows: np.ndarray) -> np.ndarray:
        """The attributes Table IV scores a retrieved item on, for ``rows``."""
        raise ValueError(f"{self.name}: no retrieval attributes")

    def probed_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose codes the ground-truth audit probes, and their cross-validation groups."""
        raise NotImplementedError


def index_errors(values: np.ndarray, name: str, names) -> list[str]:
    """A sentence when ``values`` (a field named ``name``) are not integers indexing ``names``; else []."""
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        return [f"field {name!r} is {values.dtype}, not integers"]
    outside = np.flatnonzero((values < 0) | (values >= len(names)))
    if outside.size:
        row = int(outside[0])
        return [
            f"field {name!r} holds {values[row]} in row {row} ({outside.size} such row(s)), "
            f"not an index into its {len(names)} names ({', '.join(map(str, names))})"
        ]
    return []


@functools.cache
def datasets() -> dict[str, Dataset]:
    """The datasets by key, found on first use: every package of ``drai/data`` with a ``dataset`` module."""
    found = {}
    for module in pkgutil.iter_modules(drai.data.__path__):
        if not module.ispkg:
            continue
        try:
            declared = importlib.import_module(f"drai.data.{module.name}.dataset")
        except ModuleNotFoundError as error:
            if error.name != f"drai.data.{module.name}.dataset":
                raise
            continue
        found[declared.DATASET.key] = declared.DATASET
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def get_dataset(key: str) -> Dataset:
    known = datasets()
    if key not in known:
        raise ValueError(f"unknown dataset {key!r}; known: {', '.join(known)}")
    return known[key]
