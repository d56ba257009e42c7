"""Shared set-up of the adapters: log to the rule's log file, quiet progress bars."""

from __future__ import annotations

import logging
import sys


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
    return logger
