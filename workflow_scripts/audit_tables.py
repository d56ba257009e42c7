"""Beyond the paper: the ground-truth disentanglement table and the memorization table."""

import json
from pathlib import Path


from _common import setup_logging
from drai.audit import ground_truth_table, html, markdown, memorization_table
from drai.io import write_csv, write_text

log = setup_logging(snakemake)
load = lambda paths: [json.loads(Path(p).read_text()) for p in paths]  # noqa: E731
variants = snakemake.params.variants
if snakemake.params.kind == "ground_truth":
    cifc = {(m["dataset"], m["variant"], m["seed"]): m["metrics"]["cifc"] for m in load(snakemake.input.metrics)}
    runs = load(snakemake.input.runs)
    records = [{**r, "cifc": cifc[(r["dataset"], r["variant"], r["seed"])]} for r in runs if r["available"]]
    skipped = {r["dataset"]: r["reason"] for r in runs if not r["available"]}
    frame, caption = ground_truth_table(records, [v for v in variants if any(r["variant"] == v for r in runs)], skipped)
    title = "Disentanglement against known factors (not in the paper)"
else:
    frame, caption = memorization_table(load(snakemake.input.runs), variants)
    title = "Memorization audit (not in the paper)"
log.info("%s\n%s", frame.to_string(), caption)
write_csv(snakemake.output.csv, frame)
write_text(snakemake.output.md, markdown(frame, caption, title))
write_text(snakemake.output.html, html(frame, caption, title))
