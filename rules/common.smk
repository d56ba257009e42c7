import re

import pandas as pd

from drai.config import ConfigError, load_schema, resolve
from drai.models.variants import VARIANTS
from drai.settings import (
    as_params,
    audit_settings,
    evaluation_settings,
    evaluator_settings,
    ham_patch_set_settings,
    label_settings,
    lidc_patch_set_settings,
    patch_settings,
    raw_settings,
    series_settings,
    train_settings,
)
from drai.tables import table_specs

try:
    SETTINGS = resolve(config)
except ConfigError as error:
    raise WorkflowError(str(error))

LIDC = SETTINGS["lidc"]
HAM = SETTINGS["ham10000"]
TRAIN = SETTINGS["train"]
# Every dataset the schema knows (drai/data/<key>/), not only the ones trained on.
KNOWN_DATASETS = load_schema()["$defs"]["train"]["properties"]["datasets"]["items"]["enum"]
# A rule's params are its stage's settings and nothing else (drai/settings.py): only
# what changes its output reruns it; transport settings (endpoints, timeouts,
# retries, download, device) are read by the adapters from the config instead.


wildcard_constraints:
    case=r"LIDC-IDRI-\d{4}(_\d)?",
    dataset="|".join(KNOWN_DATASETS),
    variant="|".join(re.escape(name) for name in VARIANTS),
    seed=r"\d+",


def run_outputs(name):
    """A file of every training run of the preset."""
    return expand(
        f"results/runs/{{dataset}}/{{variant}}/seed{{seed}}/{name}",
        dataset=TRAIN["datasets"],
        variant=TRAIN["variants"],
        seed=TRAIN["seeds"],
    )


def lidc_cases(wildcards=None):
    """Cases to process, known once the nodules table exists (checkpoint)."""
    from drai.data.lidc.source import select_cases

    table = checkpoints.lidc_nodules.get().output.table
    return select_cases(pd.read_csv(table), LIDC["source"], LIDC["synthetic_cases"])


def downloaded_lidc_series(wildcards):
    """The `download` target's LIDC part: every series manifest the preset uses."""
    if "lidc" not in TRAIN["datasets"]:
        return []
    return expand("results/data/lidc/series/{case}.json", case=lidc_cases())


# The `download` target's HAM10000 part: its raw files' manifest.
DOWNLOADED_HAM10000 = ["results/data/ham10000/raw.json"] if "ham10000" in TRAIN["datasets"] else []


def lidc_case_patch_files(wildcards):
    return expand("results/data/lidc/cases/{case}.npz", case=lidc_cases())


TABLE_SPECS = table_specs()
TABLE_FORMATS = ("md", "tex", "csv", "html")


def table_metrics(wildcards):
    """metrics.json of every run a table shows that the preset trains (and Pixel Matched)."""
    spec = TABLE_SPECS[int(wildcards.number)]
    datasets = [d for d in spec.datasets if d in TRAIN["datasets"]]
    variants = [m for m in spec.methods if m in TRAIN["variants"]]
    files = expand(
        "results/runs/{dataset}/{variant}/seed{seed}/metrics.json",
        dataset=datasets,
        variant=variants,
        seed=TRAIN["seeds"],
    )
    if "Pixel Matched" in spec.methods and "lidc" in datasets:
        files.append("results/metrics/lidc/pixel_matched.json")
    return files


def table_evaluators(wildcards):
    spec = TABLE_SPECS[int(wildcards.number)]
    return expand(
        "results/evaluators/{dataset}/evaluator.json",
        dataset=[d for d in spec.datasets if d in TRAIN["datasets"]],
    )
