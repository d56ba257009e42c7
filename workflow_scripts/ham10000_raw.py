"""HAM10000's files in place: synthetic, local, downloaded from Dataverse, or MedMNIST."""

from _common import setup_logging
from drai.data.ham10000_pipeline import prepare_raw

log = setup_logging(snakemake)
manifest = prepare_raw(snakemake.params.ham, snakemake.output.manifest)
log.info("HAM10000 source %s: %s", manifest["source"], manifest)
