"""Beyond the paper: the factor x code probe matrices per model, and DRAI's closest generated/training pairs."""

import json
from pathlib import Path

import numpy as np

from _common import setup_logging
from drai.audit import ground_truth_figure, memorization_figure

log = setup_logging(snakemake)
if snakemake.params.kind == "ground_truth":
    panels, skipped = {}, {}
    for path in snakemake.input.runs:
        run = json.loads(Path(path).read_text())
        if not run["available"]:
            skipped[run["dataset"]] = run["reason"]
        elif run["two_codes"]:
            panels.setdefault(run["dataset"], {})[run["variant"]] = run["scores"]
    ground_truth_figure(panels, skipped, snakemake.output.figure)
else:
    pairs = {}
    for dataset, path in zip(snakemake.params.datasets, snakemake.input.runs, strict=True):
        with np.load(path) as data:
            pairs[dataset] = {k: data[k] for k in data.files}
    memorization_figure(pairs, snakemake.params.model, snakemake.output.figure)
log.info("wrote %s", snakemake.output.figure)
