"""Save a model as its training would start: the reference a trained model must beat."""

from _common import setup_logging
from drai.train import TrainSettings, load_training_set, save_untrained

log = setup_logging(snakemake)
cfg = snakemake.params.train
settings = TrainSettings.from_config(cfg, seed=int(snakemake.wildcards.seed))
images, vectors = load_training_set(snakemake.input.patches)
save_untrained(snakemake.wildcards.variant, images.shape[1], vectors.shape[1], settings, snakemake.output.model)
log.info("wrote the untrained %s to %s", snakemake.wildcards.variant, snakemake.output.model)
