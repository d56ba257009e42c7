"""Patches of one case's curated and query nodules."""

import json

import pandas as pd

from _common import setup_logging
from drai.data.lidc import case_patches_file, wanted
from drai.data.lidc_patches import PatchSettings

log = setup_logging(snakemake)
lidc = snakemake.params.lidc
nodules = wanted(pd.read_csv(snakemake.input.table))
case_nodules = nodules[nodules["case"] == snakemake.wildcards.case]
with open(snakemake.input.manifest) as handle:
    manifest = json.load(handle)
settings = PatchSettings(
    volume_size=lidc["volume_size"],
    patch_size=lidc["patch_size"],
    output_size=lidc["output_size"],
    hu_window=tuple(lidc["hu_window"]),
    patch_slices=lidc["patch_slices"],
    stored_size=lidc["stored_size"],
)
count = case_patches_file(manifest, case_nodules, snakemake.output.patches, settings, lidc["max_slice_gap_mm"])
log.info("%s: %d patches of %d nodules", snakemake.wildcards.case, count, len(case_nodules))
