"""The figures' test images: which patches each figure shows, and which of them it picks.

:func:`load_image_sets` reads a patch set's test images (and LIDC's retrieval
queries) as :class:`FigureImages`; :func:`choose_references` picks the
references a figure shows, spread over the size bins or classes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drai.data.patchset import PatchSet
from drai.data.registry import get_dataset

log = logging.getLogger(__name__)

SEED = 0  # every random choice of the figures (references, sampled styles, t-SNE)


@dataclass
class FigureImages:
    """Images (N, C, H, W) float32 in [-1, 1] with what the figures label them by."""

    dataset: str
    images: np.ndarray
    vectors: np.ndarray
    groups: np.ndarray  # size bin (LIDC) or class (HAM10000)
    group_names: tuple[str, ...]
    captions: list[str]  # a short label per image
    sizes: np.ndarray | None = None  # LIDC nodule size, mm
    note: str = ""  # which images these are
    attributes: np.ndarray | None = None  # the retrieval attributes, where the dataset has retrieval (Table IV)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index, note: str | None = None) -> "FigureImages":
        index = np.asarray(index)
        return FigureImages(
            self.dataset,
            self.images[index],
            self.vectors[index],
            self.groups[index],
            self.group_names,
            [self.captions[i] for i in np.arange(len(self))[index]],
            None if self.sizes is None else self.sizes[index],
            self.note if note is None else note,
            None if self.attributes is None else self.attributes[index],
        )


def load_image_sets(patches_path: str | Path, dataset: str) -> tuple[FigureImages, FigureImages | None]:
    """The test images of a patch set, and its retrieval queries or None (the dataset's
    :meth:`~drai.data.registry.Dataset.figure_selection`: LIDC's curated test nodules at their
    central slice and Table IV's queries; HAM10000's modelled test images without the copies)."""
    patches = PatchSet.load(patches_path, dataset)
    spec = get_dataset(dataset)
    chosen = spec.figure_selection(patches)
    if chosen.warning:
        log.warning("%s: %s", patches_path, chosen.warning)
    everything = FigureImages(
        dataset,
        patches.crops(),
        patches.vectors.astype(np.float32),
        chosen.groups,
        chosen.group_names,
        chosen.captions,
        chosen.sizes,
        attributes=spec.retrieval_attributes(patches, slice(None)) if spec.retrieval else None,
    )
    if not chosen.test.any():
        raise ValueError(f"{patches_path}: no test images for the figures")
    tests = everything.subset(np.flatnonzero(chosen.test), chosen.note)
    queries = everything.subset(np.flatnonzero(chosen.query), "query set") if chosen.query.any() else None
    return tests, queries


def choose_references(groups: np.ndarray, k: int, seed: int = SEED, order: np.ndarray | None = None) -> np.ndarray:
    """Up to ``k`` indices, spread over the groups (round robin, random within a group).

    Returned sorted by (group, ``order``, index) so that the figures show them
    in order (``order``: e.g. the nodule sizes).
    """
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    pools = [list(rng.permutation(np.flatnonzero(groups == g))) for g in np.unique(groups)]
    chosen: list[int] = []
    while len(chosen) < min(k, len(groups)):
        for pool in pools:
            if pool and len(chosen) < k:
                chosen.append(int(pool.pop(0)))
    order = np.zeros(len(groups)) if order is None else np.asarray(order)
    return np.array(sorted(chosen, key=lambda i: (groups[i], order[i], i)), dtype=np.int64)
