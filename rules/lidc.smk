# LIDC-IDRI: annotations -> nodule table -> per-case series -> patches.


checkpoint lidc_nodules:
    output:
        table=out("data/lidc/nodules.csv"),
    log:
        out("logs/lidc/nodules.log"),
    benchmark:
        out("benchmarks/lidc/nodules.tsv")
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
        table=out("data/lidc/nodules.csv"),
        cases=lidc_case_patch_files,
    output:
        patches=out("data/lidc/patches.npz"),
        qc=report(out("data/lidc/qc_patches.png"), caption="../report/lidc_qc.rst", category="Data"),
    log:
        out("logs/lidc/patches.log"),
    benchmark:
        out("benchmarks/lidc/patches.tsv")
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
