# DRAI reproduction: from raw public data (or the embedded synthetic default)
# to the paper's tables and figures. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/lidc.smk"


rule all:
    default_target: True
    input:
        "results/data/lidc/patches.npz",
        "results/data/lidc/qc_patches.png",


rule lidc:
    input:
        rules.all.input,
