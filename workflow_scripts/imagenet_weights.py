"""torchvision's ImageNet InceptionV3 weights for the evaluator, fetched once and checked."""

from _common import setup_logging
from drai.metrics.evaluator import fetch_imagenet_weights

log = setup_logging(snakemake)
path = fetch_imagenet_weights(snakemake.params.url, snakemake.output.weights, progress=False)
log.info("ImageNet InceptionV3 weights: %s (%d bytes)", path, path.stat().st_size)
