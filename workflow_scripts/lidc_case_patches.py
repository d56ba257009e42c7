"""Patches of one case's curated and query nodules."""

import json

import pandas as pd

from _common import setup_logging
from drai.data.lidc.labels import wanted
from drai.data.lidc.pipeline import case_patches_file
from drai.data.lidc.settings import PatchSettings
from drai.settings import from_params

log = setup_logging(snakemake)
settings = from_params(PatchSettings, snakemake.params.settings)
nodules = wanted(pd.read_csv(snakemake.input.table))
case_nodules = nodules[nodules["case"] == snakemake.wildcards.case]
with open(snakemake.input.manifest) as handle:
    manifest = json.load(handle)
count = case_patches_file(manifest, case_nodules, snakemake.output.patches, settings)
log.info("%s: %d patches of %d nodules", snakemake.wildcards.case, count, len(case_nodules))
