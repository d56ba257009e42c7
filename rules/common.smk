import os
import re
from pathlib import Path

import pandas as pd
from snakemake.logging import logger

from drai.config import ConfigError, resolve
from drai.data import registry
from drai.figures.specs import FIGURE_SPECS, planned
from drai.metrics.settings import audit_settings, downstream_settings, evaluation_settings, evaluator_settings
from drai.models.variants import VARIANTS
from drai.settings import as_params
from drai.tables import table_specs
from drai.train.settings import train_settings

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


TRAIN = SETTINGS["train"]
# Every registered dataset (drai/data/<key>/ and the config's dataset_folders), not only the ones trained on.
KNOWN_DATASETS = list(registry.datasets())
# A rule's params are its stage's settings and nothing else (drai/settings.py): only
# what changes its output reruns it; transport settings (endpoints, timeouts,
# retries, download, device) are read by the adapters from the config instead.

# What each dataset's rules.smk (in drai/data/<key>/) names: the environment, the script that runs its
# steps and the report's captions, from the workflow's own folder wherever the rule file lies.
WORKFLOW_ROOT = Path(workflow.basedir)
CONDA_ENV = str(WORKFLOW_ROOT / "envs" / "drai.yaml")
DATASET_STEP = str(WORKFLOW_ROOT / "workflow_scripts" / "dataset_step.py")
REPORT_CAPTIONS = str(WORKFLOW_ROOT / "report")
# The rule files of the registered datasets, in the registry's order (the Snakefile includes them).
DATASET_RULES = [str(registry.rule_file(key)) for key in KNOWN_DATASETS if registry.rule_file(key) is not None]
# Filled by the datasets' rules.smk files; what the `download` target fetches (of the datasets trained) and each
# dataset's data targets (its patches and QC figure).
DOWNLOADS = []
DATA_TARGETS = {}


wildcard_constraints:
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


TABLE_SPECS = table_specs()
TABLE_FORMATS = ("md", "tex", "csv", "html")


def table_metrics(wildcards):
    """metrics.json of every run a table shows that the preset trains (and Pixel Matched, on the datasets
    with retrieval)."""
    spec = TABLE_SPECS[int(wildcards.number)]
    datasets = [d for d in spec.datasets if d in TRAIN["datasets"]]
    variants = [m for m in spec.methods if m in TRAIN["variants"]]
    files = expand(
        out("runs/{dataset}/{variant}/seed{seed}/metrics.json"),
        dataset=datasets,
        variant=variants,
        seed=TRAIN["seeds"],
    )
    if "Pixel Matched" in spec.methods:
        files += [out(f"metrics/{d}/pixel_matched.json") for d in datasets if registry.get_dataset(d).retrieval]
    return files


def table_evaluators(wildcards):
    spec = TABLE_SPECS[int(wildcards.number)]
    return expand(
        out("evaluators/{dataset}/evaluator.json"),
        dataset=[d for d in spec.datasets if d in TRAIN["datasets"]],
    )


FIGURE_RUN_SEED = TRAIN["seeds"][0]


def figure_runs(spec):
    """dataset -> {variant: model.pt} of a figure, for what the preset trains."""
    datasets, models = planned(spec, TRAIN["datasets"], TRAIN["variants"])
    return {
        dataset: {model: out(f"runs/{dataset}/{model}/seed{FIGURE_RUN_SEED}/model.pt") for model in models}
        for dataset in datasets
    }
