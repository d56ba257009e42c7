"""Shared set-up of the adapters: the workflow's own `drai`, log to the rule's log file."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path

# The workflow runs the library of its own folder: `drai` is imported from the
# workflow's root (the parent of workflow_scripts/), also in the conda
# environment of `--sdm conda`, which holds the dependencies only.
WORKFLOW_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(WORKFLOW_ROOT))


def setup_logging(snakemake) -> logging.Logger:
    """Send logging and uncaught errors of this job to ``snakemake.log[0]``."""
    handler = logging.FileHandler(snakemake.log[0], mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler, stream], force=True)
    logger = logging.getLogger(snakemake.rule)

    def excepthook(kind, value, traceback):
        logger.error("%s failed: %s", snakemake.rule, value, exc_info=(kind, value, traceback))

    sys.excepthook = excepthook
    from drai.data.registry import add_dataset_folders
    from drai.io import note_on_figures

    add_dataset_folders(snakemake.config.get("dataset_folders") or [])  # the datasets kept outside drai/data/

    note_on_figures(f"preset: {snakemake.config.get('preset', 'demo')}")  # every figure says which preset made it
    return logger


@contextmanager
def downstream_job(snakemake):
    """A downstream job's settings, the evaluation data of its dataset and the device it holds while inside
    (``evaluate.device``; rules/downstream.smk)."""
    import torch

    from drai.devices import claim_device, pick_device
    from drai.evaluation import evaluation_data
    from drai.metrics.settings import DownstreamSettings
    from drai.settings import from_params, transport

    torch.set_num_threads(snakemake.threads)
    settings = from_params(DownstreamSettings, snakemake.params.settings)
    data = evaluation_data(snakemake.input.patches, snakemake.wildcards.dataset, settings.options)
    with claim_device(transport(snakemake.config, "evaluate")["device"]) as requested:
        yield settings, data, str(pick_device(requested, key="evaluate.device"))
