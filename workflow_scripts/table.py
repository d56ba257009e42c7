"""Build one of Tables I-VI from per-run metrics.json files."""

from _common import setup_logging
from drai.io import write_csv, write_text
from drai.records import read_evaluators, read_records
from drai.tables import build_table, context_of, table_specs, to_html, to_latex, to_markdown

log = setup_logging(snakemake)
spec = table_specs()[int(snakemake.wildcards.number)]
records = read_records(snakemake.input.metrics)
evaluators = read_evaluators(snakemake.input.evaluators)
table = build_table(spec, records)
context = context_of(records, evaluators)
log.info("table %d from %d metric files", spec.number, len(records))
write_csv(snakemake.output.csv, table)
write_text(snakemake.output.md, to_markdown(spec, table, context))
write_text(snakemake.output.tex, to_latex(spec, table, context))
write_text(snakemake.output.html, to_html(spec, table, context))
