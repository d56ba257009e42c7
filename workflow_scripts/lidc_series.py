"""One case's CT series: rendered, found in the local folder, or downloaded (NBIA or IDC)."""

import pandas as pd

from _common import setup_logging
from drai.data.lidc.settings import SeriesSettings, lidc_download
from drai.data.lidc.source import prepare_series
from drai.settings import from_params

log = setup_logging(snakemake)
settings = from_params(SeriesSettings, snakemake.params.settings)
nodules = pd.read_csv(snakemake.input.table)
case_nodules = nodules[nodules["case"] == snakemake.wildcards.case]
# How a missing series is fetched changes no output: from the config, not a rerun trigger.
manifest = prepare_series(case_nodules, settings, snakemake.output.manifest, **lidc_download(snakemake.config))
log.info("%s: %d slices in %s (%s)", manifest["case"], len(manifest["files"]), manifest["folder"], manifest["source"])
