# LIDC-IDRI: annotations -> nodule table -> per-case series -> patches (and, for synthetic series, their
# known factors). Included by the Snakefile for the registered dataset lidc; its jobs run the functions of
# drai/data/lidc/steps.py (workflow_scripts/dataset_step.py calls the one a rule's `step` names).


include: "common.smk"


checkpoint lidc_nodules:
    output:
        table=out("data/lidc/nodules.csv"),
    log:
        out("logs/lidc/nodules.log"),
    benchmark:
        out("benchmarks/lidc/nodules.tsv")
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        step="drai.data.lidc.steps:nodules",
        settings=as_params(lidc_settings.label_settings(SETTINGS)),
    script:
        DATASET_STEP


# On a cluster a case's two jobs (its series, then its patches) travel as one job (group lidc_case),
# unless the series are downloaded: downloads run where snakemake runs (a login node has internet).
rule lidc_series:
    input:
        table=out("data/lidc/nodules.csv"),
    output:
        manifest=out("data/lidc/series/{case}.json"),
    log:
        out("logs/lidc/series/{case}.log"),
    benchmark:
        out("benchmarks/lidc/series/{case}.tsv")
    group:
        None if LIDC["download"] else "lidc_case"
    localrule: LIDC["download"]
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        step="drai.data.lidc.steps:series",
        settings=as_params(lidc_settings.series_settings(SETTINGS)),
    script:
        DATASET_STEP


rule lidc_case_patches:
    input:
        table=out("data/lidc/nodules.csv"),
        manifest=out("data/lidc/series/{case}.json"),
    output:
        patches=out("data/lidc/cases/{case}.npz"),
    log:
        out("logs/lidc/cases/{case}.log"),
    benchmark:
        out("benchmarks/lidc/cases/{case}.tsv")
    group:
        "lidc_case"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        step="drai.data.lidc.steps:case_patches",
        settings=as_params(lidc_settings.patch_settings(SETTINGS)),
    script:
        DATASET_STEP


rule lidc_patches:
    input:
        table=out("data/lidc/nodules.csv"),
        cases=lidc_case_patch_files,
    output:
        patches=out("data/lidc/patches.npz"),
        qc=report(out("data/lidc/qc_patches.png"), caption=f"{REPORT_CAPTIONS}/lidc_qc.rst", category="Data"),
    log:
        out("logs/lidc/patches.log"),
    benchmark:
        out("benchmarks/lidc/patches.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        step="drai.data.lidc.steps:patches",
        settings=as_params(lidc_settings.lidc_patch_set_settings(SETTINGS)),
    script:
        DATASET_STEP


# Beyond the paper: the synthetic series' known factors beside the patches (docs/beyond-the-paper.md).
rule lidc_factors:
    input:
        patches=out("data/lidc/patches.npz"),
        table=out("data/lidc/nodules.csv"),
        manifests=lidc_series_manifests,
    output:
        factors=out("data/lidc/factors.csv"),
    log:
        out("logs/factors/lidc.log"),
    benchmark:
        out("benchmarks/factors/lidc.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        step="drai.data.lidc.steps:factors",
        # How the synthetic series were rendered (each case's style is drawn again from it where not recorded).
        synthetic=lambda w: as_params(lidc_settings.series_settings(SETTINGS).synthetic),
    script:
        DATASET_STEP


# `snakemake lidc`: its patches and QC figure.
rule lidc:
    input:
        DATA_TARGETS["lidc"],
    localrule: True
