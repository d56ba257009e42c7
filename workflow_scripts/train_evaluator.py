"""Train the evaluator network of one dataset and report its test accuracy."""

import torch

from _common import setup_logging
from drai.devices import claim_device, pick_device
from drai.evaluation import evaluation_data
from drai.io import write_json
from drai.metrics.evaluator import EvaluatorSettings, save_evaluator, train_evaluator
from drai.records import evaluator_record
from drai.settings import from_params, transport

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
dataset = snakemake.wildcards.dataset
settings = from_params(EvaluatorSettings, snakemake.params.settings)
data = evaluation_data(snakemake.input.patches, dataset, settings.options)
log.info(
    "%s evaluator: %d training, %d test images, classes %s, %s",
    dataset,
    len(data.evaluator_train.labels),
    len(data.evaluator_test.labels),
    data.class_names,
    settings,
)
with claim_device(
    transport(snakemake.config, "evaluate")["device"]
) as requested:  # one GPU per job on a multi-GPU machine
    model, report = train_evaluator(
        data.evaluator_train.images,
        data.evaluator_train.labels,
        data.evaluator_test.images,
        data.evaluator_test.labels,
        len(data.class_names),
        settings,
        device=str(pick_device(requested, key="evaluate.device")),
    )
log.info(
    "test accuracy %.3f (chance %.3f), %s initialization",
    report["test_accuracy"],
    report["chance_accuracy"],
    report["initialization"],
)
write_json(
    snakemake.output.report,
    evaluator_record(dataset, data.evaluator_labels, data.class_names, data.source, vars(settings), report),
)
save_evaluator(model, snakemake.output.model)
