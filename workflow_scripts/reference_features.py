"""The evaluator's features of a dataset's training and test images, once for every run's memorization audit."""

import torch

from _common import setup_logging
from drai.audit import evaluator_features, reference_features
from drai.devices import claim_device, pick_device
from drai.evaluation import evaluation_data
from drai.io import write_npz
from drai.settings import transport

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
data = evaluation_data(snakemake.input.patches, snakemake.wildcards.dataset, snakemake.params.options)
with claim_device(transport(snakemake.config, "evaluate")["device"]) as requested:
    device = str(pick_device(requested, key="evaluate.device"))
    features = reference_features(
        data, evaluator_features(snakemake.input.evaluator, device), snakemake.params.batch_size
    )
write_npz(snakemake.output.features, **features)
log.info("features of %d training and %d test images", len(features["train"]), len(features["test"]))
