"""Beyond the paper: the real-only reference of the downstream table, one dataset and seed."""

from _common import downstream_job, setup_logging
from drai.io import write_json
from drai.metrics.downstream import real_only

log = setup_logging(snakemake)
w = snakemake.wildcards
with downstream_job(snakemake) as (settings, data, device):
    result = real_only(data, settings, int(w.seed), device)
log.info("real only: %s; all types: %s", result["real_only"], result["all_types"])
write_json(
    snakemake.output.result,
    {"dataset": w.dataset, "seed": int(w.seed), "data_source": data.source, "settings": snakemake.params.settings}
    | result,
)
