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

from drai.data.crops import centre_crop
from drai.data.lidc.labels import SIZE_BIN_LABELS
from drai.evaluation import lidc_retrieval_masks

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
        )


def load_image_sets(patches_path: str | Path, dataset: str) -> tuple[FigureImages, FigureImages | None]:
    """The test images of a patch set, and (LIDC) the retrieval queries or None.

    LIDC: curated test nodules at their central slice; queries: the query set's
    central slices. Should a small preset have no curated test nodule, all test
    nodules are used (the note says so). HAM10000: the test split without the
    augmented copies; no separate queries.
    """
    with np.load(patches_path) as data:
        splits = data["splits"]
        images, vectors = centre_crop(data["images"]), data["vectors"]
        if dataset == "lidc":
            query, keep = lidc_retrieval_masks(data)  # Table IV's query and search sets
            note = "curated test nodules"
            if not keep.any():
                keep = (splits == "test") & (data["slice_offsets"] == 0)
                note = "test nodules (no curated one in this preset)"
                log.warning("%s: no curated test nodule; the figures use all %d test nodules", patches_path, keep.sum())
            sizes = data["sizes"].astype(np.float64)
            everything = FigureImages(
                dataset,
                images.astype(np.float32),
                vectors.astype(np.float32),
                data["size_bins"].astype(np.int64),
                tuple(SIZE_BIN_LABELS),
                [f"{s:.1f} mm" for s in sizes],
                sizes,
            )
        elif dataset == "ham10000":
            keep, note = (splits == "test") & ~data["augmented"], "test images"
            if "modelled" in data.files:  # the lesion types the models are conditioned on
                keep &= data["modelled"]
            query = np.zeros(len(splits), bool)
            names = tuple(str(n) for n in data["class_names"])
            labels = data["labels"].astype(np.int64)
            everything = FigureImages(
                dataset,
                images.astype(np.float32),
                vectors.astype(np.float32),
                labels,
                names,
                [names[i] for i in labels],
            )
        else:
            raise ValueError(f"unknown dataset {dataset!r}")
    if not keep.any():
        raise ValueError(f"{patches_path}: no test images for the figures")
    tests = everything.subset(np.flatnonzero(keep), note)
    queries = everything.subset(np.flatnonzero(query), "query set") if query.any() else None
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
