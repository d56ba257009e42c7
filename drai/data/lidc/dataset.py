"""LIDC-IDRI as the readers see it: its patch-set fields and selections (:mod:`drai.data.registry`)."""

from __future__ import annotations

import numpy as np

from drai.data.factors import Factor
from drai.data.lidc.labels import BINARY_CLASSES, BINARY_CUTS, SIZE_BIN_LABELS, VECTOR_NAMES
from drai.data.patchset import PatchSet
from drai.data.registry import Dataset, EvaluationSelection, Field, FigureSelection, index_errors

LABELS = ("size", "malignancy")  # lidc.evaluator_labels
EVALUATOR_SLICES = ("central", "all")  # lidc.evaluator_slices


class Lidc(Dataset):
    key = "lidc"
    name = "LIDC"
    full_name = "LIDC-IDRI"
    channels = 1
    retrieval = True
    order = 0
    paper_figures = (10, 12, 14, 16, 18, 19)
    evaluator_options = ("evaluator_labels", "evaluator_slices")
    label_options = ("evaluator_labels",)
    # The synthetic series' factors (drai/data/lidc/factors.py): style per case, content per nodule.
    factors = (
        Factor("body_width_mm", "style"),
        Factor("body_height_mm", "style"),
        Factor("chest_wall_mm", "style"),
        Factor("mediastinum_width_mm", "style"),
        Factor("mediastinum_y_mm", "style"),
        Factor("soft_tissue_hu", "style"),
        Factor("fat_hu", "style"),
        Factor("parenchyma_hu", "style"),
        Factor("vessels", "style"),
        Factor("noise_sd_hu", "style"),
        Factor("density_hu", "content"),
        Factor("edge_blur_mm", "content"),
        Factor("contrast", "content"),
        Factor("calcified", "content", "discrete"),
        Factor("spicules", "content"),
        Factor("size_mm", "content"),
    )
    factor_keys = ("row", "nodule_id", "slice_offset", "case", "split")
    fields = (
        Field("nodule_ids", "str: '<case>_n<k>', the nodule the patch shows"),
        Field("slice_offsets", "int: the patch's axial slice relative to the nodule's central one (0)"),
        Field("sizes", "float32: the nodule's size in mm"),
        Field("size_bins", "int: the nodule's size bin (index into SIZE_BIN_LABELS)"),
        Field("malignancy", "float32: the nodule's median malignancy rating"),
        Field("curated", "bool: median malignancy other than 3 (the models' and evaluator's nodules)"),
        Field("query", "bool: median malignancy 3 (Table IV's queries)"),
        Field(
            "lung_box_distance",
            "float32: in-plane voxels from the nodule to the lung box's edge (NaN: not recorded)",
            default=lambda rows: np.full(rows, np.nan, np.float32),
        ),
    )

    def vector_names(self, patches: PatchSet) -> tuple[str, ...]:
        return VECTOR_NAMES

    def contract_errors(self, patches: PatchSet) -> list[str]:
        """Vectors of the 17 dimensions of VECTOR_NAMES; size bins that index SIZE_BIN_LABELS."""
        errors = []
        if patches.vectors.shape[1] != len(VECTOR_NAMES):
            errors.append(f"vectors are {patches.vectors.shape[1]} wide, not the {len(VECTOR_NAMES)} of LIDC's")
        errors += index_errors(patches["size_bins"], "size_bins", SIZE_BIN_LABELS)
        return errors

    def training_rows(self, patches: PatchSet) -> np.ndarray:
        return patches.is_train & patches["curated"]

    def evaluation(self, patches: PatchSet, options: dict) -> EvaluationSelection:
        """The curated nodules labelled by size bin or benign (< 3) / malignant (> 3) (``evaluator_labels``).

        The models' rows are every slice of the patch set. The evaluator's are every slice too
        (``evaluator_slices`` all, also when not given) or each nodule's central slice alone (central):
        every slice carries its whole nodule's label, so an edge slice of a large nodule, which shows a
        small cross-section, is labelled large (docs/measurements.md compares the two evaluators).
        """
        labels, evaluator_slices = options["evaluator_labels"], options.get("evaluator_slices", "all")
        if labels == "size":
            classes, names = patches["size_bins"].astype(np.int64), SIZE_BIN_LABELS
        elif labels == "malignancy":
            classes = (patches["malignancy"] > BINARY_CUTS["malignancy"]).astype(np.int64)
            names = BINARY_CLASSES["malignancy"]
        else:
            raise ValueError(f"lidc.evaluator_labels must be one of {LABELS}, got {labels!r}")
        if evaluator_slices not in EVALUATOR_SLICES:
            raise ValueError(f"lidc.evaluator_slices must be one of {EVALUATOR_SLICES}, got {evaluator_slices!r}")
        train, test = self.training_rows(patches), patches["curated"] & patches.is_test
        seen = patches["slice_offsets"] == 0 if evaluator_slices == "central" else np.ones(len(patches), bool)
        return EvaluationSelection(tuple(names), classes, train, test, train & seen, test & seen)

    def evaluator_labels(self, patches: PatchSet, options: dict) -> str:
        slices = "central slices" if options.get("evaluator_slices", "all") == "central" else "every slice"
        return f"{options['evaluator_labels']}, {slices}"

    def retrieval_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        """Table IV's query and search sets: central slices of the test split, of the query set and of the
        curated nodules respectively."""
        central_test = (patches["slice_offsets"] == 0) & patches.is_test
        return central_test & patches["query"], central_test & patches["curated"]

    def retrieval_attributes(self, patches: PatchSet, rows: np.ndarray) -> np.ndarray:
        """Each nodule's conditioning vector and its size in mm, as the paper builds the attribute vector (it
        rescales nothing; with sizes in mm the divergences land on the paper's scale, about 1.5 to 3)."""
        return np.concatenate([patches.vectors[rows], patches["sizes"][rows, None]], axis=1).astype(np.float64)

    def figure_selection(self, patches: PatchSet) -> FigureSelection:
        """Curated test nodules at their central slice (all test nodules should a small preset have no curated
        one); queries: Table IV's."""
        query, test = self.retrieval_rows(patches)
        note, warning = "curated test nodules", ""
        if not test.any():
            test = patches.is_test & (patches["slice_offsets"] == 0)
            note = "test nodules (no curated one in this preset)"
            warning = f"no curated test nodule; the figures use all {test.sum()} test nodules"
        sizes = patches["sizes"].astype(np.float64)
        return FigureSelection(
            test,
            query,
            note,
            patches["size_bins"].astype(np.int64),
            tuple(SIZE_BIN_LABELS),
            [f"{s:.1f} mm" for s in sizes],
            sizes,
            warning,
        )

    def probed_rows(self, patches: PatchSet) -> tuple[np.ndarray, np.ndarray]:
        """Every patch, grouped by case (style is drawn per case)."""
        rows = np.arange(len(patches))
        return rows, np.array([i.rsplit("_n", 1)[0] for i in patches["nodule_ids"].astype(str)])


DATASET = Lidc()
