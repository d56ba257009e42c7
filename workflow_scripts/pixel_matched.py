"""Table IV's "Pixel Matched" row: content retrieval by nearest pixels."""

import numpy as np

from _common import setup_logging
from drai.evaluation import pixel_matched_retrieval
from drai.io import write_json

log = setup_logging(snakemake)
scores = pixel_matched_retrieval(snakemake.input.patches, snakemake.params.top_n)
with np.load(snakemake.input.patches) as data:
    source = str(data["source"])
log.info("pixel matched: %s", scores)
write_json(
    snakemake.output.metrics,
    {
        "dataset": "lidc",
        "variant": "Pixel Matched",
        "data_source": source,
        "metrics": scores,
        "top_n": snakemake.params.top_n,
    },
)
