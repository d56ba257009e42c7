"""Table IV's "Pixel Matched" row: content retrieval by nearest pixels."""

from _common import setup_logging
from drai.data.patchset import PatchSet
from drai.evaluation import pixel_matched_retrieval
from drai.io import write_json
from drai.records import pixel_matched_record

log = setup_logging(snakemake)
scores = pixel_matched_retrieval(snakemake.input.patches, snakemake.params.top_n)
patches = PatchSet.load(snakemake.input.patches)
log.info("pixel matched: %s", scores)
write_json(
    snakemake.output.metrics,
    pixel_matched_record(patches.dataset, patches.source, scores, snakemake.params.top_n),
)
