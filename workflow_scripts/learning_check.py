"""Trained DRAI against the untrained DRAI: did training improve FID and CGAcc?"""

import json
from pathlib import Path

from _common import setup_logging
from drai.io import write_csv, write_text
from drai.learning import learning_check, learning_markdown

log = setup_logging(snakemake)
load = lambda paths: [json.loads(Path(p).read_text()) for p in paths]  # noqa: E731
frame = learning_check(load(snakemake.input.trained), load(snakemake.input.untrained), snakemake.params.cgacc_margin)
log.info("\n%s", frame.to_string())
write_csv(snakemake.output.csv, frame)
write_text(snakemake.output.md, learning_markdown(frame))
