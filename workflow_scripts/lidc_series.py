"""One case's CT series: rendered, found in the local folder, or downloaded (NBIA or IDC)."""

import pandas as pd

from _common import setup_logging
from drai.data.lidc import prepare_series
from drai.data.synthetic_ct import SyntheticSettings

log = setup_logging(snakemake)
lidc = snakemake.params.lidc
nodules = pd.read_csv(snakemake.input.table)
case_nodules = nodules[nodules["case"] == snakemake.wildcards.case]
manifest = prepare_series(
    case_nodules,
    source=lidc["source"],
    # Synthetic series get a folder of their own: series_dir is for real data only.
    root=lidc["synthetic_dir"] if lidc["source"] == "synthetic" else lidc["series_dir"],
    manifest_path=snakemake.output.manifest,
    download=lidc["download"],
    api_url=lidc["api_url"],
    synthetic=SyntheticSettings(lidc["synthetic_matrix"], lidc["synthetic_slice_spacing_mm"], lidc["seed"]),
    download_options={"retries": lidc["download_retries"], "timeout_s": lidc["download_timeout_s"]},
    idc_endpoint_url=lidc["idc_endpoint_url"],
)
log.info("%s: %d slices in %s (%s)", manifest["case"], len(manifest["files"]), manifest["folder"], manifest["source"])
