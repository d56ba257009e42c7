"""Beyond the paper: each model's CAS against its FID, per dataset."""

from _common import setup_logging
from drai.downstream import cas_fid_figure
from drai.records import read_records

log = setup_logging(snakemake)


def of_dataset(records: list[dict], dataset: str) -> list[dict]:
    return [r for r in records if r["dataset"] == dataset]


records = {kind: read_records(getattr(snakemake.input, kind)) for kind in ("runs", "metrics", "real")}
panels = {
    dataset: {kind: of_dataset(found, dataset) for kind, found in records.items()}
    | {"variants": snakemake.params.variants}
    for dataset in snakemake.params.datasets
}
cas_fid_figure(panels, snakemake.output.figure)
log.info("wrote %s", snakemake.output.figure)
