"""Beyond the paper: one dataset's downstream table, or its fidelity table (precision, recall, density,
coverage, intra-class FID)."""

from _common import setup_logging
from drai.audit import fidelity_table, html, markdown
from drai.data.registry import get_dataset
from drai.downstream import downstream_table
from drai.io import write_csv, write_text
from drai.records import read_records

log = setup_logging(snakemake)
dataset, variants = snakemake.wildcards.dataset, snakemake.params.variants
metrics = read_records(snakemake.input.metrics)
name = get_dataset(dataset).name
if snakemake.params.kind == "downstream":
    frame, caption = downstream_table(
        dataset, read_records(snakemake.input.real), read_records(snakemake.input.runs), metrics, variants
    )
    title = f"Downstream use of the generated images, {name} (not in the paper)"
else:
    frame, caption = fidelity_table(dataset, metrics, variants)
    title = f"Precision, recall, density, coverage and intra-class FID, {name} (not in the paper)"
log.info("%s\n%s", frame.to_string(), caption)
write_csv(snakemake.output.csv, frame)
write_text(snakemake.output.md, markdown(frame, caption, title))
write_text(snakemake.output.html, html(frame, caption, title))
