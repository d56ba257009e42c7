"""Beyond the paper: the real-only reference of the downstream table, one dataset and seed."""

import torch

from _common import downstream_inputs, setup_logging
from drai.devices import claim_device, pick_device
from drai.io import write_json
from drai.metrics.downstream import real_only
from drai.settings import transport

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
w = snakemake.wildcards
settings, data = downstream_inputs(snakemake)
with claim_device(transport(snakemake.config, "evaluate")["device"]) as requested:
    device = str(pick_device(requested, key="evaluate.device"))
    result = real_only(data, settings, int(w.seed), device)
log.info("real only: %s; all types: %s", result["real_only"], result["all_types"])
write_json(
    snakemake.output.result,
    {"dataset": w.dataset, "seed": int(w.seed), "data_source": data.source, "settings": snakemake.params.settings}
    | result,
)
