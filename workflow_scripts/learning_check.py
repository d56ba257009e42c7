"""Trained DRAI against the untrained DRAI: did training improve FID and CGAcc?"""

from _common import setup_logging
from drai.io import write_csv, write_text
from drai.learning import learning_check, learning_markdown
from drai.records import read_records

log = setup_logging(snakemake)
frame = learning_check(
    read_records(snakemake.input.trained), read_records(snakemake.input.untrained), snakemake.params.cgacc_margin
)
log.info("\n%s", frame.to_string())
write_csv(snakemake.output.csv, frame)
write_text(snakemake.output.md, learning_markdown(frame))
