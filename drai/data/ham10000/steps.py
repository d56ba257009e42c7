"""HAM10000's jobs: what each rule of its rule file (``rules.smk``) runs.

Each function is the adapter of one rule, from the job (snakemake's object: its inputs, outputs, params,
wildcards, threads and config) to the library; ``workflow_scripts/dataset_step.py`` calls it, after the
job's logging is set up, as its rule's ``step`` param names it.
"""

from __future__ import annotations

import json
import logging

from drai.data.ham10000.factors import factor_table
from drai.data.ham10000.pipeline import make_patch_set, prepare_raw
from drai.data.ham10000.settings import PatchSetSettings, RawSettings, ham_download
from drai.io import write_csv
from drai.settings import from_params


def raw(job, log: logging.Logger) -> None:
    """Rule ham10000_raw: HAM10000's files in place: synthetic, local, downloaded from Dataverse, or MedMNIST."""
    settings = from_params(RawSettings, job.params.settings)
    # How missing files are fetched changes no output: from the config, not a rerun trigger.
    manifest = prepare_raw(settings, job.output.manifest, ham_download(job.config))
    log.info("HAM10000 source %s: %s", manifest["source"], manifest)


def patches(job, log: logging.Logger) -> None:
    """Rule ham10000_patches: balanced 64x64 lesion patches, the per-image table, class counts and QC figure."""
    settings = from_params(PatchSetSettings, job.params.settings)
    with open(job.input.manifest) as handle:
        manifest = json.load(handle)
    table = make_patch_set(manifest, settings, dict(job.output.items()), job.threads)
    log.info(
        "%d patches (%d augmented); split: %s", len(table), table["augmented"].sum(), table["split_source"].iloc[0]
    )


def factors(job, log: logging.Logger) -> None:
    """Rule ham10000_factors: the synthetic images' known factors beside the patches (factors.csv)."""
    with open(job.input.manifest) as handle:
        root = json.load(handle)["root"]
    table = factor_table(job.input.patches, root)
    write_csv(job.output.factors, table)
    log.info("factors of %d patches", len(table))
