"""HAM10000's files in place: synthetic, local, downloaded from Dataverse, or MedMNIST."""

from _common import setup_logging
from drai.data.ham10000.pipeline import prepare_raw
from drai.data.ham10000.settings import RawSettings, ham_download
from drai.settings import from_params

log = setup_logging(snakemake)
settings = from_params(RawSettings, snakemake.params.settings)
# How missing files are fetched changes no output: from the config, not a rerun trigger.
manifest = prepare_raw(settings, snakemake.output.manifest, ham_download(snakemake.config))
log.info("HAM10000 source %s: %s", manifest["source"], manifest)
