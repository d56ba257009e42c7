"""Save a model as its training would start: the reference a trained model must beat."""

from _common import setup_logging
from drai.settings import from_params
from drai.train.run import load_training_set, save_untrained
from drai.train.settings import TrainSettings

log = setup_logging(snakemake)
settings = from_params(TrainSettings, snakemake.params.settings)
images, vectors = load_training_set(snakemake.input.patches)
save_untrained(snakemake.wildcards.variant, images.shape[1], vectors.shape[1], settings, snakemake.output.model)
log.info("wrote the untrained %s to %s", snakemake.wildcards.variant, snakemake.output.model)
