"""All cases' patches into patches.npz, and the QC figure."""

import pandas as pd

from _common import setup_logging
from drai.data.lidc.pipeline import assemble, lidc_qc_figure
from drai.data.lidc.settings import LidcPatchSetSettings
from drai.settings import from_params

log = setup_logging(snakemake)
settings = from_params(LidcPatchSetSettings, snakemake.params.settings)
nodules = pd.read_csv(snakemake.input.table)
frame = assemble(snakemake.input.cases, nodules, snakemake.output.patches, settings)
lidc_qc_figure(snakemake.output.patches, snakemake.output.qc)
log.info("%d patches of %d nodules from %d cases", len(frame), frame.nodule_id.nunique(), len(snakemake.input.cases))
