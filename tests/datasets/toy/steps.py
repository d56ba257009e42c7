"""The toy dataset's job: what its rule runs (``workflow_scripts/dataset_step.py`` calls it)."""

from __future__ import annotations

import logging

from drai.data.toy.draw import draw
from drai.data.toy.settings import ToySettings

from drai.io import write_csv
from drai.settings import from_params, transport


def patches(job, log: logging.Logger) -> None:
    """Rule toy_patches: the patch set and its factors."""
    settings = from_params(ToySettings, job.params.settings)
    log.info("drawing with %d thread(s)", transport(job.config, "toy")["render_threads"])
    patch_set, factors = draw(settings.items, settings.seed)
    patch_set.save(job.output.patches)
    write_csv(job.output.factors, factors)
    log.info("%d toy images", len(patch_set))
