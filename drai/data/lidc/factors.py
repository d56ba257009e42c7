"""LIDC-IDRI's known factors, one row per patch of a synthetic ``patches.npz`` (:mod:`drai.data.factors`).

Style per case, as :func:`drai.data.lidc.synthetic_volume.render_volume` draws it (body and lung shape,
tissue densities, vessels, noise), recorded in each series folder's ``synthetic_factors.json``; content per
nodule, what :class:`drai.data.lidc.synthetic_volume.NoduleLook` makes of the nodule's median ratings
(density from texture, edge blur from margin, contrast from subtlety, a calcified core, spicules) and its
size. The factors' names are the dataset's declaration (:attr:`drai.data.lidc.dataset.Lidc.factors`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from drai.data.factors import ordered, synthetic_patches
from drai.data.lidc import synthetic as synthetic_ct
from drai.data.lidc import synthetic_volume
from drai.data.lidc.settings import SyntheticSettings

log = logging.getLogger(__name__)


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


def factor_table(
    patches_path, nodules: pd.DataFrame, manifests: list[str | Path], synthetic: SyntheticSettings
) -> pd.DataFrame:
    """LIDC's factor table. A series folder rendered without ``synthetic_factors.json`` (by an
    earlier version) has its style drawn again in memory with the same settings (logged)."""
    patches = synthetic_patches(patches_path, "lidc")
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
    return ordered(frame, "lidc")
