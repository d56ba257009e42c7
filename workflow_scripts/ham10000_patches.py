"""Balanced 64x64 lesion patches, the per-image table, class counts and QC figure."""

import json

from _common import setup_logging
from drai.data.ham10000.pipeline import make_patch_set
from drai.data.ham10000.settings import PatchSetSettings
from drai.settings import from_params

log = setup_logging(snakemake)
settings = from_params(PatchSetSettings, snakemake.params.settings)
with open(snakemake.input.manifest) as handle:
    manifest = json.load(handle)
table = make_patch_set(manifest, settings, dict(snakemake.output.items()), snakemake.threads)
log.info("%d patches (%d augmented); split: %s", len(table), table["augmented"].sum(), table["split_source"].iloc[0])
