# DRAI reproduction: from raw public data (or the embedded synthetic default)
# to the paper's tables and figures. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/lidc.smk"
include: "rules/ham10000.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/downstream.smk"


# Only the data and weights the preset reads, fetched (or found) and checked:
# run it where there is internet (a cluster's login node) before the rest.
rule download:
    input:
        downloaded_lidc_series,
        DOWNLOADED_HAM10000,
        IMAGENET_WEIGHTS,
    localrule: True


rule lidc:
    input:
        out("data/lidc/patches.npz"),
        out("data/lidc/qc_patches.png"),
    localrule: True


rule ham10000:
    input:
        out("data/ham10000/patches.npz"),
        out("data/ham10000/qc_patches.png"),
    localrule: True


rule train_all:
    input:
        run_outputs("model.pt"),
    localrule: True


rule all:
    default_target: True
    input:
        rules.lidc.input,
        rules.ham10000.input,
        rules.train_all.input,
        TABLES,
        FIGURES,
    localrule: True
