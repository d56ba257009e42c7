"""HAM10000's known factors, one row per patch of a synthetic ``patches.npz`` (:mod:`drai.data.factors`).

Style per image, as :func:`drai.data.ham10000.synthetic.render_image` draws it (lesion position and
orientation, elongation, skin tone, hairs, vignetting), recorded in ``synthetic_factors.csv`` beside the
images; content is the class and the lesion's size (its diameter as drawn per the image's short side:
visible in a fixed-size crop, not in a per-lesion one). A flipped copy's orientation and position are
flipped with it. The factors' names are the dataset's declaration
(:attr:`drai.data.ham10000.dataset.Ham10000.factors`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.factors import ordered, synthetic_patches
from drai.data.ham10000 import synthetic as synthetic_derm


def factor_table(patches_path, root: str | Path) -> pd.DataFrame:
    """HAM10000's factor table, from ``synthetic_factors.csv`` under the synthetic ``root``."""
    patches = synthetic_patches(patches_path, "ham10000")
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
    return ordered(frame, "ham10000")
