# DRAI reproduction: from raw public data (or the embedded synthetic default)
# to the paper's tables and figures. See README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


# Each registered dataset's own rules (drai/data/<key>/rules.smk): its patches, and its synthetic data's factors.
for _dataset_rules in DATASET_RULES:

    include: _dataset_rules


include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"
include: "rules/downstream.smk"


# Only the data and weights the preset reads, fetched (or found) and checked:
# run it where there is internet (a cluster's login node) before the rest.
rule download:
    input:
        DOWNLOADS,
        IMAGENET_WEIGHTS,
    localrule: True


rule train_all:
    input:
        run_outputs("model.pt"),
    localrule: True


rule all:
    default_target: True
    input:
        # The patches and QC figure of each dataset trained on (`snakemake <dataset>` makes one's alone).
        [DATA_TARGETS[dataset] for dataset in TRAIN["datasets"] if dataset in DATA_TARGETS],
        rules.train_all.input,
        TABLES,
        FIGURES,
    localrule: True
