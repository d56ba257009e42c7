"""The known factors of the synthetic data, one row per patch of ``patches.npz`` (row ``row``).

The synthetic renderers draw every image from named factors (docs/data.md, "CT
series" and "HAM10000"): the one place where what a style or content code
should hold is known. This module lists them and joins them to the patches:

* LIDC: style per case, as :func:`drai.data.lidc.synthetic_volume.render_volume`
  draws it (body and lung shape, tissue densities, vessels, noise), recorded
  in each series folder's ``synthetic_factors.json``; content per nodule,
  what :class:`drai.data.lidc.synthetic_volume.NoduleLook` makes of the nodule's median
  ratings (density from texture, edge blur from margin, contrast from
  subtlety, a calcified core, spicules) and its size.
* HAM10000: style per image, as :func:`drai.data.ham10000.synthetic.render_image`
  draws it (lesion position and orientation, elongation, skin tone, hairs,
  vignetting), recorded in ``synthetic_factors.csv`` beside the images; content
  is the class and the lesion's size (its diameter as drawn per the image's
  short side: visible in a fixed-size crop, not in a per-lesion one). A
  flipped copy's orientation and position are flipped with it.

Real data has no such factors: :func:`factor_table` refuses it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.ham10000 import synthetic as synthetic_derm
from drai.data.lidc import synthetic as synthetic_ct
from drai.data.lidc import synthetic_volume
from drai.data.patchset import PatchSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Factor:
    name: str
    group: str  # style | content: the code that should hold it
    kind: str = "continuous"  # continuous (R^2) | discrete (balanced accuracy)


FACTORS: dict[str, tuple[Factor, ...]] = {
    "lidc": (
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
    ),
    "ham10000": (
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
    ),
}

#: What identifies a row besides its index: the patch set's own keys.
KEYS = {
    "lidc": ("row", "nodule_id", "slice_offset", "case", "split"),
    "ham10000": ("row", "image_id", "augmented", "flip", "split"),
}


class NoFactorsError(ValueError):
    """The data is not synthetic: nothing is known of its factors."""


def no_factors_message(dataset: str, source: str) -> str:
    return (
        f"{dataset}: source {source!r} is real data, whose generative factors are unknown; "
        "the ground-truth disentanglement needs the embedded synthetic data (source: synthetic)"
    )


def factor_table(dataset: str, patches_path: str | Path, **sources) -> pd.DataFrame:
    """The factor table of a synthetic patch set: :data:`KEYS` and the :data:`FACTORS` of ``dataset``."""
    source = PatchSet.load(patches_path, dataset).source
    if source != "synthetic":
        raise NoFactorsError(no_factors_message(dataset, source))
    tables = {"lidc": lidc_factors, "ham10000": ham10000_factors}  # each reads its own renderer's records
    if dataset not in tables:
        raise ValueError(f"{dataset}: no known factors (defined for {', '.join(tables)})")
    return tables[dataset](patches_path, **sources)


def nodule_content(nodules: pd.DataFrame) -> pd.DataFrame:
    """Per nodule, how the renderer draws it from its median ratings (``NoduleLook``) and its size."""
    looks = [
        synthetic_volume.NoduleLook(
            **{
                name: float(row[f"median_{name}"])
                for name in ("texture", "calcification", "margin", "spiculation", "subtlety")
            }
        )
        for _, row in nodules.iterrows()
    ]
    return pd.DataFrame(
        {
            "nodule_id": nodules["nodule_id"].astype(str).to_numpy(),
            "density_hu": [look.density_hu for look in looks],
            "edge_blur_mm": [look.edge_blur_mm for look in looks],
            "contrast": [look.contrast for look in looks],
            "calcified": [int(look.calcified) for look in looks],
            "spicules": [max(int(round(2 * (look.spiculation - 1))), 0) for look in looks],
            "size_mm": nodules["size_mm"].astype(float).to_numpy(),
        }
    )


def lidc_factors(
    patches_path, nodules: pd.DataFrame, manifests: list[str | Path], synthetic: synthetic_volume.SyntheticSettings
) -> pd.DataFrame:
    """LIDC's factor table. A series folder rendered without ``synthetic_factors.json`` (by an
    earlier version) has its style drawn again in memory with the same settings (logged)."""
    styles = {}
    by_case = nodules.drop_duplicates("case").set_index("case")
    for path in manifests:
        manifest = json.loads(Path(path).read_text())
        case = manifest["case"]
        recorded = Path(manifest["folder"]) / synthetic_ct.FACTORS_FILE
        if recorded.is_file():
            styles[case] = json.loads(recorded.read_text())["style"]
        else:
            log.info(
                "%s: no %s; drawing the case's style again in memory", manifest["folder"], synthetic_ct.FACTORS_FILE
            )
            styles[case] = synthetic_ct.style_factors(int(by_case.loc[case, "scan_id"]), synthetic)
    patches = PatchSet.load(patches_path, "lidc")
    ids = patches["nodule_ids"].astype(str)
    frame = pd.DataFrame(
        {
            "row": np.arange(len(ids)),
            "nodule_id": ids,
            "slice_offset": patches["slice_offsets"].astype(int),
            "split": patches.splits.astype(str),
        }
    )
    case_of = nodules.set_index("nodule_id")["case"].astype(str)
    frame.insert(3, "case", case_of.loc[ids].to_numpy())
    missing = sorted(set(frame["case"]) - set(styles))
    if missing:
        raise ValueError(f"{patches_path}: patches of cases without a series manifest: {', '.join(missing[:5])}")
    style = pd.DataFrame.from_dict(styles, orient="index").rename_axis("case").reset_index()
    frame = frame.merge(style, on="case", how="left").merge(nodule_content(nodules), on="nodule_id", how="left")
    return _ordered(frame, "lidc")


def ham10000_factors(patches_path, root: str | Path) -> pd.DataFrame:
    """HAM10000's factor table, from ``synthetic_factors.csv`` under the synthetic ``root``."""
    recorded = Path(root) / synthetic_derm.FACTORS_FILE
    if not recorded.is_file():
        raise FileNotFoundError(
            f"{recorded}: no style factors beside the synthetic images; render them again "
            "(snakemake --forcerun ham10000_raw)"
        )
    style = pd.read_csv(recorded, dtype={"image_id": str})
    if "lesion_size" not in style.columns:
        raise ValueError(
            f"{recorded}: no lesion_size column (rendered by an earlier version); render the images again "
            "(snakemake --forcerun ham10000_raw)"
        )
    patches = PatchSet.load(patches_path, "ham10000")
    names = patches["class_names"].astype(str)
    frame = pd.DataFrame(
        {
            "row": np.arange(len(patches)),
            "image_id": patches["image_ids"].astype(str),
            "augmented": patches["augmented"].astype(bool),
            "flip": patches["flips"].astype(str),
            "split": patches.splits.astype(str),
            "lesion_class": names[patches["labels"]],
        }
    )
    frame = frame.merge(style, on="image_id", how="left", validate="many_to_one")
    if frame["skin_r"].isna().any():
        unknown = frame.loc[frame["skin_r"].isna(), "image_id"].iloc[0]
        raise ValueError(f"{recorded}: no factors of image {unknown}, which {patches_path} holds")
    # A flipped copy: x -> -x negates the horizontal offset, y -> -y the vertical one, and either turns the
    # lesion's axis a into -a or pi - a, which negates sin 2a and keeps cos 2a.
    horizontal, vertical = frame["flip"].str.contains("h"), frame["flip"].str.contains("v")
    frame.loc[horizontal, "centre_dx"] *= -1
    frame.loc[vertical, "centre_dy"] *= -1
    frame.loc[horizontal ^ vertical, "orientation_sin"] *= -1
    return _ordered(frame, "ham10000")


def _ordered(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    columns = list(KEYS[dataset]) + [f.name for f in FACTORS[dataset]]
    return frame.sort_values("row").reset_index(drop=True)[columns]
