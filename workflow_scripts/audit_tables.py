"""Beyond the paper: the ground-truth disentanglement table and the memorization table."""

from _common import setup_logging
from drai.audit import PRDC, ground_truth_table, html, markdown, memorization_table
from drai.io import write_csv, write_text
from drai.records import read_records

log = setup_logging(snakemake)
variants = snakemake.params.variants
if snakemake.params.kind == "ground_truth":
    metrics = {
        (m["dataset"], m["variant"], m["seed"]): {key: m["metrics"].get(key) for key in ("cifc", *PRDC)}
        for m in read_records(snakemake.input.metrics)
    }
    runs = read_records(snakemake.input.runs)
    records = [{**r, **metrics[(r["dataset"], r["variant"], r["seed"])]} for r in runs if r["available"]]
    skipped = {r["dataset"]: r["reason"] for r in runs if not r["available"]}
    frame, caption = ground_truth_table(records, [v for v in variants if any(r["variant"] == v for r in runs)], skipped)
    title = "Disentanglement against known factors (not in the paper)"
else:
    frame, caption = memorization_table(read_records(snakemake.input.runs), variants)
    title = "Memorization audit (not in the paper)"
log.info("%s\n%s", frame.to_string(), caption)
write_csv(snakemake.output.csv, frame)
write_text(snakemake.output.md, markdown(frame, caption, title))
write_text(snakemake.output.html, html(frame, caption, title))
