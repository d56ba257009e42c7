"""The datasets: everything that differs between them, declared in one place per dataset.

A dataset is a package ``drai/data/<key>/`` (or ``<folder>/<key>/`` for a folder
of the config's ``dataset_folders``) that holds all of it:

* ``dataset.py`` defines ``DATASET``, an instance of a :class:`Dataset`
  subclass: its names, channels, the fields its patch sets add to the common
  ones (:mod:`drai.data.patchset`), the selections every reader needs, its
  evaluator's options and its known factors;
* ``config.schema.json``: its config section (:mod:`drai.config` adds it to the
  schema under the key);
* ``settings.py``: its rules' settings and their builders from that section,
  and its relation checks (``config_errors``);
* ``rules.smk``: the rules that make its ``patches.npz`` (and, for synthetic
  data, its ``factors.csv``), included by the Snakefile; their jobs run its
  ``steps`` module.

Readers (training, evaluation, figures, audit, tables, the ``drai`` command)
look the dataset up here and never branch on its name. The packages are found
by looking, not by a list to edit.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import drai.data

if TYPE_CHECKING:
    from drai.data.factors import Factor
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
    paper_figures: tuple[int, ...] = ()  # the paper's figures (10-19) that show it
    # Keys of its config section that choose the evaluator's classes or images (``options`` of
    # :meth:`evaluation`), and those of them that choose the classes, which the metrics need too.
    evaluator_options: tuple[str, ...] = ()
    label_options: tuple[str, ...] = ()
    # The known factors of its synthetic data (drai.data.factors) and the keys of a factor table's rows;
    # no factors: no ground-truth audit.
    factors: tuple[Factor, ...] = ()
    factor_keys: tuple[str, ...] = ("row", "split")

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

    def evaluation(self, patches: PatchSet, options: dict) -> EvaluationSelection:
        """The evaluation's rows and the evaluator's labels; ``options`` holds the values of the dataset's
        :attr:`evaluator_options` (all of them for the evaluator's training, the :attr:`label_options` for the
        metrics, which read only the labels and the models' rows)."""
        raise NotImplementedError

    def evaluator_labels(self, patches: PatchSet, options: dict) -> str:
        """What the evaluator classifies and on which images, in words (its report and the captions)."""
        raise NotImplementedError

    def figure_selection(self, patches: PatchSet) -> FigureSelection:
        raise NotImplementedError

    def retrieval_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of Table IV's query and search sets."""
        raise ValueError(f"{self.name}: no retrieval sets (Table IV's retrieval is defined where a dataset has them)")

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
    """The datasets by key, found on first use: every package of ``drai/data`` (and of the folders added with
    :func:`add_dataset_folders`) with a ``dataset`` module, whose ``DATASET.key`` is the package's name."""
    found = {}
    for module in pkgutil.iter_modules(drai.data.__path__):
        if not module.ispkg or module.name in found:
            continue
        try:
            declared = importlib.import_module(f"drai.data.{module.name}.dataset")
        except ModuleNotFoundError as error:
            if error.name != f"drai.data.{module.name}.dataset":
                raise
            continue
        if declared.DATASET.key != module.name:
            raise ValueError(
                f"{declared.__file__}: DATASET.key is {declared.DATASET.key!r}, not its package's name "
                f"{module.name!r} (the key names the package, its config section and its results folder)"
            )
        found[module.name] = declared.DATASET
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


class UnknownDatasetError(ValueError):
    """A dataset key that no registered package has."""


def get_dataset(key: str) -> Dataset:
    known = datasets()
    if key not in known:
        raise UnknownDatasetError(
            f"unknown dataset {key!r}; known: {', '.join(known)} (a package kept outside drai/data/ joins "
            "through the config key dataset_folders, or the drai command's --dataset-folder)"
        )
    return known[key]


def add_dataset_folders(folders) -> None:
    """Make the dataset packages of ``folders`` (the config's ``dataset_folders``) part of the registry: each
    ``<folder>/<key>/`` is then found, and imported, as ``drai.data.<key>``. Relative folders are taken from
    the working directory; a folder already added is skipped."""
    known = {str(Path(path).resolve()) for path in drai.data.__path__}
    added = False
    for folder in folders:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"{folder} is not a folder")
        if str(path) not in known:
            drai.data.__path__.append(str(path))
            known.add(str(path))
            added = True
    if added:
        datasets.cache_clear()


def package_folder(key: str) -> Path:
    """The folder of dataset ``key``'s package."""
    get_dataset(key)
    return Path(importlib.util.find_spec(f"drai.data.{key}").submodule_search_locations[0])


def dataset_module(key: str, name: str):
    """The module ``name`` of dataset ``key``'s package (e.g. its ``settings``), or None where it has none."""
    package = f"drai.data.{key}"
    if importlib.util.find_spec(f"{package}.{name}") is None:
        return None
    return importlib.import_module(f"{package}.{name}")


def dataset_schema(key: str) -> dict:
    """The schema of dataset ``key``'s config section: its package's ``config.schema.json``."""
    path = package_folder(key) / "config.schema.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dataset {key!r} has no schema of its config section")
    schema = json.loads(path.read_text())
    schema.pop("$comment", None)
    return schema


def rule_file(key: str) -> Path | None:
    """Dataset ``key``'s rule file (``rules.smk`` in its package), or None where it has none."""
    path = package_folder(key) / "rules.smk"
    return path if path.is_file() else None
