"""The synthetic data's known factors beside its patches: factors.csv, one row per patch row."""

import json

import pandas as pd

from _common import setup_logging
from drai.data.factors import factor_table
from drai.data.lidc.settings import SyntheticSettings
from drai.io import write_csv
from drai.settings import from_params

log = setup_logging(snakemake)
dataset = snakemake.wildcards.dataset
if dataset == "lidc":
    synthetic = from_params(SyntheticSettings, snakemake.params.synthetic)
    table = factor_table(
        dataset,
        snakemake.input.patches,
        nodules=pd.read_csv(snakemake.input.table),
        manifests=snakemake.input.manifests,
        synthetic=synthetic,
    )
else:
    with open(snakemake.input.manifest) as handle:
        table = factor_table(dataset, snakemake.input.patches, root=json.load(handle)["root"])
write_csv(snakemake.output.factors, table)
log.info("%s: factors of %d patches", dataset, len(table))
