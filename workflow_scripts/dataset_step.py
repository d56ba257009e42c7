"""A dataset's own job: the function of its package that the rule's ``step`` param names ("module:function").

A dataset's rules live in its package (``drai/data/<key>/rules.smk``) and so do their adapters (its
``steps`` module), so that nothing outside the package names the dataset; this script only sets up the
job's log and calls the step with the job.
"""

import importlib

from _common import setup_logging

log = setup_logging(snakemake)
module, function = snakemake.params.step.split(":")
getattr(importlib.import_module(module), function)(snakemake, log)
