# LIDC-IDRI: annotations -> nodule table -> per-case series -> patches.

import os

_CASE_POSITIONS = {}


def lidc_case_group(wildcards):
    """Group of a per-case job: on a cluster one job carries the `group-components: lidc_case: N`
    (profiles/slurm) cases in a row, `lidc_case_0` for the first N, and so on.

    Numbered groups rather than one group `lidc_case` split by snakemake: snakemake forms
    groups again whenever the DAG changes and then joins its earlier chunks into ever larger
    ones (the paper preset's 28 groups of 20 cases became 2 of 155 and 400 cases).
    """
    per_job = workflow.group_settings.group_components.get("lidc_case", 1)
    table = checkpoints.lidc_nodules.get().output.table
    version = os.stat(table).st_mtime_ns  # the case list is read once per nodule table, not per job
    if version not in _CASE_POSITIONS:
        _CASE_POSITIONS.clear()
        _CASE_POSITIONS[version] = {case: i for i, case in enumerate(lidc_cases())}
    group = f"lidc_case_{_CASE_POSITIONS[version][wildcards.case] // per_job}"
    workflow.parent_groupids[group] = "lidc_case"  # so that group-components of lidc_case applies
    return group


checkpoint lidc_nodules:
    output:
        table="results/data/lidc/nodules.csv",
    log:
        "results/logs/lidc/nodules.log",
    benchmark:
        "results/benchmarks/lidc/nodules.tsv"
    conda:
        "../envs/drai.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=as_params(label_settings(SETTINGS)),
    script:
        "../workflow_scripts/lidc_nodules.py"


rule lidc_series:
    input:
        table="results/data/lidc/nodules.csv",
    output:
        manifest="results/data/lidc/series/{case}.json",
    log:
        "results/logs/lidc/series/{case}.log",
    benchmark:
        "results/benchmarks/lidc/series/{case}.tsv"
    group:
        lidc_case_group
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        settings=as_params(series_settings(SETTINGS)),
    script:
        "../workflow_scripts/lidc_series.py"


rule lidc_case_patches:
    input:
        table="results/data/lidc/nodules.csv",
        manifest="results/data/lidc/series/{case}.json",
    output:
        patches="results/data/lidc/cases/{case}.npz",
    log:
        "results/logs/lidc/cases/{case}.log",
    benchmark:
        "results/benchmarks/lidc/cases/{case}.tsv"
    group:
        lidc_case_group
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        settings=as_params(patch_settings(SETTINGS)),
    script:
        "../workflow_scripts/lidc_case_patches.py"


rule lidc_patches:
    input:
        table="results/data/lidc/nodules.csv",
        cases=lidc_case_patch_files,
    output:
        patches="results/data/lidc/patches.npz",
        qc=report("results/data/lidc/qc_patches.png", caption="../report/lidc_qc.rst", category="Data"),
    log:
        "results/logs/lidc/patches.log",
    benchmark:
        "results/benchmarks/lidc/patches.tsv"
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        settings=as_params(lidc_patch_set_settings(SETTINGS)),
    script:
        "../workflow_scripts/lidc_patches.py"
