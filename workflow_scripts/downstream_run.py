"""Beyond the paper, one run: classifiers trained on its generated images (and on them with the real ones)."""

from _common import downstream_job, setup_logging
from drai.checkpoints import load_model
from drai.evaluation import generate_from_vectors
from drai.io import write_json
from drai.metrics.downstream import downstream_of_run

log = setup_logging(snakemake)
w = snakemake.wildcards
with downstream_job(snakemake) as (settings, data, device):
    model = load_model(snakemake.input.model, device).eval()
    result = downstream_of_run(
        lambda vectors, seed: generate_from_vectors(model, vectors, seed, device=device),
        data,
        settings,
        int(w.seed),
        device,
    )
log.info("%s %s seed %s: %s", w.dataset, w.variant, w.seed, {m: result[m] for m in ("real_mix", "balanced")})
write_json(
    snakemake.output.result,
    {
        "dataset": w.dataset,
        "variant": w.variant,
        "seed": int(w.seed),
        "data_source": data.source,
        "settings": snakemake.params.settings,
    }
    | result,
)
