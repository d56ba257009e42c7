import pandas as pd

from drai.config import ConfigError, resolve

try:
    SETTINGS = resolve(config)
except ConfigError as error:
    raise WorkflowError(str(error))

LIDC = SETTINGS["lidc"]
HAM = SETTINGS["ham10000"]


wildcard_constraints:
    case=r"LIDC-IDRI-\d{4}(_\d)?",


def lidc_cases(wildcards=None):
    """Cases to process, known once the nodules table exists (checkpoint)."""
    from drai.data.lidc import select_cases

    table = checkpoints.lidc_nodules.get().output.table
    return select_cases(
        pd.read_csv(table), LIDC["source"], LIDC["synthetic_cases"], tuple(LIDC["exclude_cases"])
    )


def lidc_case_patch_files(wildcards):
    return expand("results/data/lidc/cases/{case}.npz", case=lidc_cases())
