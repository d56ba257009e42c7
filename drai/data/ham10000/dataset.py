"""HAM10000 as the readers see it: its patch-set fields and selections (:mod:`drai.data.registry`)."""

from __future__ import annotations

import numpy as np

from drai.data.factors import Factor
from drai.data.patchset import PatchSet
from drai.data.registry import Dataset, EvaluationSelection, Field, FigureSelection, index_errors


class Ham10000(Dataset):
    key = "ham10000"
    name = "HAM10000"
    full_name = "HAM10000"
    channels = 3
    order = 1
    paper_figures = (11, 13, 15, 17, 18, 19)
    # The synthetic images' factors (drai/data/ham10000/factors.py): style per image, content per lesion.
    factors = (
        Factor("centre_dx", "style"),
        Factor("centre_dy", "style"),
        Factor("orientation_cos", "style"),
        Factor("orientation_sin", "style"),
        Factor("elongation", "style"),
        Factor("skin_r", "style"),
        Factor("skin_g", "style"),
        Factor("skin_b", "style"),
        Factor("hairs", "style"),
        Factor("vignetting", "style"),
        Factor("lesion_class", "content", "discrete"),
        Factor("lesion_size", "content"),
    )
    factor_keys = ("row", "image_id", "augmented", "flip", "split")
    fields = (
        Field("labels", "int: lesion type, an index into class_names"),
        Field(
            "modelled",
            "bool: a lesion type the generative models use (the others are the evaluator's alone)",
            default=lambda rows: np.ones(rows, bool),  # patch sets of the modelled types only
        ),
        Field("augmented", "bool: a flipped copy made to balance the training classes"),
        Field("image_ids", "str: the ISIC image id"),
        Field("lesion_ids", "str: the lesion (the split keeps a lesion's images together)"),
        Field("flips", "str: the copy's flip ('', 'h', 'v', 'hv')"),
        Field("class_names", "str: the lesion types, the modelled ones first", per_row=False),
        Field(
            "split_source",
            "str: where the test split comes from",
            default=lambda rows: np.array("unknown"),
            per_row=False,
        ),
    )

    def class_names(self, patches: PatchSet) -> tuple[str, ...]:
        return tuple(str(n) for n in patches["class_names"])

    def vector_names(self, patches: PatchSet) -> tuple[str, ...]:
        return self.class_names(patches)[: patches.vectors.shape[1]]

    def contract_errors(self, patches: PatchSet) -> list[str]:
        """Labels that index class_names; vectors one-hot over the modelled types, which come first in
        class_names, so at most as wide as class_names, and wide enough for every modelled row's label."""
        names = self.class_names(patches)
        errors = index_errors(patches["labels"], "labels", names)
        width = patches.vectors.shape[1]
        if not 1 <= width <= len(names):
            errors.append(f"vectors are {width} wide, not one dimension per modelled type of the {len(names)}")
        elif not errors:
            labels = np.asarray(patches["labels"])
            beyond = np.flatnonzero(patches["modelled"].astype(bool) & (labels >= width))
            if beyond.size:
                row = int(beyond[0])
                errors.append(
                    f"row {row} is modelled with label {labels[row]} ({names[labels[row]]}), "
                    f"which vectors {width} wide cannot hold ({beyond.size} such row(s))"
                )
        return errors

    def training_rows(self, patches: PatchSet) -> np.ndarray:
        return patches.is_train & patches["modelled"]

    def model_rows(self, patches: PatchSet) -> np.ndarray:
        return patches["modelled"].astype(bool)

    def evaluation(self, patches: PatchSet, options: dict) -> EvaluationSelection:
        """Lesion type, seven-way for the evaluator ("a 7 way classification on lesion type", Section III-C);
        the models' rows are the modelled types; test rows without the flipped copies."""
        modelled, original = patches["modelled"].astype(bool), ~patches["augmented"]
        return EvaluationSelection(
            self.class_names(patches),
            patches["labels"].astype(np.int64),
            self.training_rows(patches),
            modelled & original & patches.is_test,
            patches.is_train,
            original & patches.is_test,
        )

    def evaluator_labels(self, patches: PatchSet, options: dict) -> str:
        return f"{len(patches['class_names'])}-way lesion type"

    def figure_selection(self, patches: PatchSet) -> FigureSelection:
        """The modelled lesion types' test images without the flipped copies; no queries."""
        names = self.class_names(patches)
        labels = patches["labels"].astype(np.int64)
        return FigureSelection(
            patches.is_test & ~patches["augmented"] & patches["modelled"].astype(bool),
            np.zeros(len(patches), bool),
            "test images",
            labels,
            names,
            [names[i] for i in labels],
        )

    def probed_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        """The modelled types without flipped copies (a copy would share its image's factors across folds),
        grouped by lesion."""
        rows = np.flatnonzero(patches["modelled"].astype(bool) & ~patches["augmented"])
        return rows, patches["lesion_ids"].astype(str)[rows]


DATASET = Ham10000()
