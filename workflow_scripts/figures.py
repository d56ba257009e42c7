"""Draw one of the paper's figures 10-19 from trained runs (rules/figures.smk)."""

import torch

from _common import setup_logging
from drai.figures.kinds import make_figure
from drai.figures.specs import FIGURE_SPECS

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
spec = FIGURE_SPECS[snakemake.params.figure]
patches = dict(zip(snakemake.params.datasets, snakemake.input.patches, strict=True))
runs = snakemake.params.runs
log.info(
    "Fig. %d (%s): %s",
    spec.number,
    spec.kind,
    "; ".join(f"{d}: {', '.join(models) or 'no model'}" for d, models in runs.items()) or "no dataset",
)
make_figure(spec, patches, runs, snakemake.output.figure, run_seed=snakemake.params.run_seed, threads=snakemake.threads)
log.info("wrote %s", snakemake.output.figure)
