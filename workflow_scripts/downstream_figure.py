"""Beyond the paper: each model's CAS against its FID, per dataset."""

from _common import setup_logging
from drai.downstream import cas_fid_figure
from drai.records import read_records

log = setup_logging(snakemake)
panels = {}
for dataset in snakemake.params.datasets:
    mine = lambda records: [r for r in records if r["dataset"] == dataset]  # noqa: E731
    panels[dataset] = {
        "runs": mine(read_records(snakemake.input.runs)),
        "metrics": mine(read_records(snakemake.input.metrics)),
        "real": mine(read_records(snakemake.input.real)),
        "variants": snakemake.params.variants,
    }
cas_fid_figure(panels, snakemake.output.figure)
log.info("wrote %s", snakemake.output.figure)
