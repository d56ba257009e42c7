"""The toy dataset as the readers see it: its patch-set fields, its selections and its known factors."""

from __future__ import annotations

import numpy as np

from drai.data.factors import Factor
from drai.data.patchset import PatchSet
from drai.data.registry import Dataset, EvaluationSelection, Field, FigureSelection, index_errors

CLASSES = ("disc", "square")


class Toy(Dataset):
    key = "toy"
    name = "Toy"
    full_name = "Toy shapes"
    channels = 1
    order = 2
    factors = (Factor("brightness", "style"), Factor("shape", "content", "discrete"))
    factor_keys = ("row", "item", "split")
    fields = (
        Field("labels", "int: the shape, an index into CLASSES"),
        Field("items", "str: the image's id"),
    )

    def vector_names(self, patches: PatchSet) -> tuple[str, ...]:
        return CLASSES

    def contract_errors(self, patches: PatchSet) -> list[str]:
        return index_errors(patches["labels"], "labels", CLASSES)

    def training_rows(self, patches: PatchSet) -> np.ndarray:
        return patches.is_train

    def evaluation(self, patches: PatchSet, options: dict) -> EvaluationSelection:
        labels = patches["labels"].astype(np.int64)
        return EvaluationSelection(
            CLASSES, labels, patches.is_train, patches.is_test, patches.is_train, patches.is_test
        )

    def evaluator_labels(self, patches: PatchSet, options: dict) -> str:
        return "shape"

    def figure_selection(self, patches: PatchSet) -> FigureSelection:
        labels = patches["labels"].astype(np.int64)
        return FigureSelection(
            patches.is_test, np.zeros(len(patches), bool), "test images", labels, CLASSES, [CLASSES[i] for i in labels]
        )

    def probed_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(patches))
        return rows, patches["items"].astype(str)


DATASET = Toy()
