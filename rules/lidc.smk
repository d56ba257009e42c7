# LIDC-IDRI: annotations -> nodule table -> per-case series -> patches.


checkpoint lidc_nodules:
    output:
        table="results/data/lidc/nodules.csv",
    log:
        "results/logs/lidc/nodules.log",
    benchmark:
        "results/benchmarks/lidc/nodules.tsv"
    params:
        lidc=LIDC,
    threads: 2
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/drai.yaml"
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
    params:
        lidc=LIDC,
    group:
        "lidc_case"  # on a cluster many cases share one job (profiles/slurm: group-components)
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../envs/drai.yaml"
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
    params:
        lidc=LIDC,
    group:
        "lidc_case"  # on a cluster many cases share one job (profiles/slurm: group-components)
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    conda:
        "../envs/drai.yaml"
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
    params:
        lidc=LIDC,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/drai.yaml"
    script:
        "../workflow_scripts/lidc_patches.py"
