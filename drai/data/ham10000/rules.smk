# HAM10000: raw files (synthetic, local, downloaded or MedMNIST) -> balanced patches (and, for synthetic
# images, their known factors). Included by the Snakefile for the registered dataset ham10000; its jobs
# run the functions of drai/data/ham10000/steps.py (workflow_scripts/dataset_step.py calls the one a
# rule's `step` names).

from drai.data.ham10000 import settings as ham10000_settings

HAM = SETTINGS["ham10000"]

# The `download` target's HAM10000 part: its raw files' manifest.
if "ham10000" in TRAIN["datasets"]:
    DOWNLOADS.append(out("data/ham10000/raw.json"))
DATA_TARGETS["ham10000"] = [out("data/ham10000/patches.npz"), out("data/ham10000/qc_patches.png")]


rule ham10000_raw:
    output:
        manifest=out("data/ham10000/raw.json"),
    log:
        out("logs/ham10000/raw.log"),
    benchmark:
        out("benchmarks/ham10000/raw.tsv")
    localrule: HAM["download"]
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        step="drai.data.ham10000.steps:raw",
        settings=as_params(ham10000_settings.raw_settings(SETTINGS)),
    script:
        DATASET_STEP


rule ham10000_patches:
    input:
        manifest=out("data/ham10000/raw.json"),
    output:
        patches=out("data/ham10000/patches.npz"),
        table=out("data/ham10000/images.csv"),
        counts_csv=out("data/ham10000/class_counts.csv"),
        counts_md=out("data/ham10000/class_counts.md"),
        skipped=out("data/ham10000/skipped.csv"),
        qc=report(out("data/ham10000/qc_patches.png"), caption=f"{REPORT_CAPTIONS}/ham10000_qc.rst", category="Data"),
    log:
        out("logs/ham10000/patches.log"),
    benchmark:
        out("benchmarks/ham10000/patches.tsv")
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        step="drai.data.ham10000.steps:patches",
        settings=as_params(ham10000_settings.ham_patch_set_settings(SETTINGS)),
    script:
        DATASET_STEP


# Beyond the paper: the synthetic images' known factors beside the patches (docs/beyond-the-paper.md).
rule ham10000_factors:
    input:
        patches=out("data/ham10000/patches.npz"),
        manifest=out("data/ham10000/raw.json"),
    output:
        factors=out("data/ham10000/factors.csv"),
    log:
        out("logs/factors/ham10000.log"),
    benchmark:
        out("benchmarks/factors/ham10000.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        step="drai.data.ham10000.steps:factors",
    script:
        DATASET_STEP


# `snakemake ham10000`: its patches and QC figure.
rule ham10000:
    input:
        DATA_TARGETS["ham10000"],
    localrule: True
