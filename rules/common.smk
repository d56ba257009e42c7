import os
import re

import pandas as pd
from snakemake.logging import logger

from drai.config import ConfigError, load_schema, resolve
from drai.models.variants import VARIANTS
from drai.settings import as_params
from drai.metrics.settings import (
    audit_settings,
    downstream_settings,
    evaluation_settings,
    evaluator_settings,
)
from drai.data.ham10000.settings import ham_patch_set_settings, raw_settings
from drai.data.lidc.settings import label_settings, lidc_patch_set_settings, patch_settings, series_settings
from drai.train.settings import train_settings
from drai.figures.specs import FIGURE_SPECS, planned
from drai.tables import table_specs

try:
    SETTINGS = resolve(config)
except ConfigError as error:
    raise WorkflowError(str(error))

# A preset owns its outputs: every file the workflow writes lies under <results_root>/<preset>/
# (results/demo/, results/paper/, results/ci/), so that switching presets never touches another's.
RESULTS = SETTINGS["results_dir"]


def out(path):
    """``path`` (wildcards and all) in the preset's own results tree."""
    return f"{RESULTS}/{path}"


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
        out(f"runs/{{dataset}}/{{variant}}/seed{{seed}}/{name}"),
        dataset=TRAIN["datasets"],
        variant=TRAIN["variants"],
        seed=TRAIN["seeds"],
    )


def dataset_runs(name):
    """A file of every run of the dataset of the job's wildcards."""
    return lambda w: expand(
        out(f"runs/{w.dataset}/{{variant}}/seed{{seed}}/{name}"), variant=TRAIN["variants"], seed=TRAIN["seeds"]
    )


# A plan made before the nodule table exists cannot count the per-case LIDC jobs: say so where it is read.
if "lidc" in TRAIN["datasets"] and not os.path.exists(out("data/lidc/nodules.csv")):
    logger.info(
        f"Note: {out('data/lidc/nodules.csv')} does not exist yet; the per-case LIDC jobs (lidc_series and "
        "lidc_case_patches, two per case) are planned once the checkpoint lidc_nodules has written it, so job "
        "counts shown before then leave them out (the paper preset: 557 cases, 1114 jobs more)."
    )


def lidc_cases(wildcards=None):
    """Cases to process, known once the nodules table exists (checkpoint)."""
    from drai.data.lidc.labels import select_cases

    table = checkpoints.lidc_nodules.get().output.table
    return select_cases(pd.read_csv(table), LIDC["source"], LIDC["synthetic_cases"])


def downloaded_lidc_series(wildcards):
    """The `download` target's LIDC part: every series manifest the preset uses."""
    if "lidc" not in TRAIN["datasets"]:
        return []
    return expand(out("data/lidc/series/{case}.json"), case=lidc_cases())


# The `download` target's HAM10000 part: its raw files' manifest.
DOWNLOADED_HAM10000 = [out("data/ham10000/raw.json")] if "ham10000" in TRAIN["datasets"] else []


def lidc_case_patch_files(wildcards):
    return expand(out("data/lidc/cases/{case}.npz"), case=lidc_cases())


TABLE_SPECS = table_specs()
TABLE_FORMATS = ("md", "tex", "csv", "html")


def table_metrics(wildcards):
    """metrics.json of every run a table shows that the preset trains (and Pixel Matched)."""
    spec = TABLE_SPECS[int(wildcards.number)]
    datasets = [d for d in spec.datasets if d in TRAIN["datasets"]]
    variants = [m for m in spec.methods if m in TRAIN["variants"]]
    files = expand(
        out("runs/{dataset}/{variant}/seed{seed}/metrics.json"),
        dataset=datasets,
        variant=variants,
        seed=TRAIN["seeds"],
    )
    if "Pixel Matched" in spec.methods and "lidc" in datasets:
        files.append(out("metrics/lidc/pixel_matched.json"))
    return files


def table_evaluators(wildcards):
    spec = TABLE_SPECS[int(wildcards.number)]
    return expand(
        out("evaluators/{dataset}/evaluator.json"),
        dataset=[d for d in spec.datasets if d in TRAIN["datasets"]],
    )


def factor_inputs(wildcards):
    """The inputs of a dataset's factor table: its patches and what its synthetic data was made from."""
    if wildcards.dataset == "lidc":
        return {
            "patches": out("data/lidc/patches.npz"),
            "table": out("data/lidc/nodules.csv"),
            "manifests": expand(out("data/lidc/series/{case}.json"), case=lidc_cases()),
        }
    return {"patches": out("data/ham10000/patches.npz"), "manifest": out("data/ham10000/raw.json")}


FIGURE_RUN_SEED = TRAIN["seeds"][0]


def figure_runs(spec):
    """dataset -> {variant: model.pt} of a figure, for what the preset trains."""
    datasets, models = planned(spec, TRAIN["datasets"], TRAIN["variants"])
    return {
        dataset: {model: out(f"runs/{dataset}/{model}/seed{FIGURE_RUN_SEED}/model.pt") for model in models}
        for dataset in datasets
    }
