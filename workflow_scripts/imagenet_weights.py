"""torchvision's ImageNet InceptionV3 weights for the evaluator, fetched once and checked."""

from _common import setup_logging
from drai.metrics.evaluator import fetch_imagenet_weights
from drai.settings import transport

log = setup_logging(snakemake)
# The URL is transport: its file name (with the SHA-256 prefix) is already the output's name.
url = transport(snakemake.config, "evaluate")["imagenet_url"]
path = fetch_imagenet_weights(url, snakemake.output.weights, progress=False)
log.info("ImageNet InceptionV3 weights: %s (%d bytes)", path, path.stat().st_size)
