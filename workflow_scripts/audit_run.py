"""Beyond the paper, one run: its codes probed for the known factors, and its memorization audit."""

import numpy as np
import torch

from _common import setup_logging
from drai.audit import evaluator_features, generated_for_evaluation, ground_truth_of_run, memorization_of_run
from drai.checkpoints import load_model
from drai.data.factors import no_factors_message, read_factor_table
from drai.devices import claim_device, pick_device
from drai.evaluation import evaluation_data
from drai.io import write_json, write_npz
from drai.metrics.settings import AuditSettings, EvaluationSettings
from drai.settings import from_params, transport

log = setup_logging(snakemake)
torch.set_num_threads(snakemake.threads)
w = snakemake.wildcards
settings = from_params(AuditSettings, snakemake.params.audit)
evaluation = from_params(EvaluationSettings, snakemake.params.settings)
data = evaluation_data(snakemake.input.patches, w.dataset, evaluation.options)
run = {"dataset": w.dataset, "variant": w.variant, "seed": int(w.seed), "data_source": data.source}
with claim_device(transport(snakemake.config, "evaluate")["device"]) as requested:
    device = str(pick_device(requested, key="evaluate.device"))
    model = load_model(snakemake.input.model, device).eval()
    if snakemake.input.factors:
        factors = read_factor_table(snakemake.input.factors[0], w.dataset)
        truth = ground_truth_of_run(
            model, w.dataset, snakemake.input.patches, factors, settings, evaluation.seed, evaluation.batch_size, device
        )
        truth = {**run, "available": True, **truth}
    else:
        truth = {**run, "available": False, "reason": no_factors_message(w.dataset, data.source)}
    generated = generated_for_evaluation(model, data, evaluation, device)
    with np.load(snakemake.input.reference) as reference:
        reference = {"train": reference["train"], "test": reference["test"]}
    summary, pairs = memorization_of_run(
        generated,
        data,
        evaluator_features(snakemake.input.evaluator, device),
        settings,
        evaluation.batch_size,
        reference,
    )
log.info("ground truth: %s", {k: truth.get(k) for k in ("separation", "informativeness", "leakage", "reason")})
log.info("memorization: %s", summary)
write_json(snakemake.output.ground_truth, truth)
write_json(snakemake.output.memorization, {**run, **summary})
write_npz(snakemake.output.pairs, **{k: np.asarray(v) for k, v in pairs.items()})
