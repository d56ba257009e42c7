"""Every metric of one run (trained or untrained) into metrics.json, with its config and data source."""

import torch

from _common import setup_logging
from drai.checkpoints import load_checkpoint, load_model
from drai.devices import claim_device, pick_device
from drai.evaluation import evaluate_run, evaluation_data
from drai.io import write_json
from drai.metrics.settings import EvaluationSettings
from drai.records import metrics_record, read_records
from drai.settings import from_params, transport

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
w = snakemake.wildcards
settings = from_params(EvaluationSettings, snakemake.params.settings)
data = evaluation_data(snakemake.input.patches, w.dataset, settings.options)
checkpoint = load_checkpoint(snakemake.input.model)
steps = int(checkpoint["step"])
log.info("%s %s seed %s (%s, %d steps): %s", w.dataset, w.variant, w.seed, w.stage, steps, settings)
with claim_device(
    transport(snakemake.config, "evaluate")["device"]
) as requested:  # one GPU per job on a multi-GPU machine
    device = str(pick_device(requested, key="evaluate.device"))
    model = load_model(snakemake.input.model, device)
    metrics = evaluate_run(model, data, snakemake.input.evaluator, settings, snakemake.input.patches, device)
log.info("metrics: %s", metrics)
write_json(
    snakemake.output.metrics,
    metrics_record(
        w.dataset,
        w.variant,
        w.seed,
        w.stage,
        steps,
        data.source,
        metrics,
        read_records([snakemake.input.evaluator_report])[0],
        {
            "preset": snakemake.params.preset,
            "train": checkpoint["meta"]["settings"],
            "evaluate": snakemake.params.settings,
        },
    ),
)
