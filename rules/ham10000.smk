# HAM10000: raw files (synthetic, local, downloaded or MedMNIST) -> balanced patches.


rule ham10000_raw:
    output:
        manifest=out("data/ham10000/raw.json"),
    log:
        out("logs/ham10000/raw.log"),
    benchmark:
        out("benchmarks/ham10000/raw.tsv")
    localrule: HAM["download"]
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        settings=as_params(raw_settings(SETTINGS)),
    script:
        "../workflow_scripts/ham10000_raw.py"


rule ham10000_patches:
    input:
        manifest=out("data/ham10000/raw.json"),
    output:
        patches=out("data/ham10000/patches.npz"),
        table=out("data/ham10000/images.csv"),
        counts_csv=out("data/ham10000/class_counts.csv"),
        counts_md=out("data/ham10000/class_counts.md"),
        skipped=out("data/ham10000/skipped.csv"),
        qc=report(out("data/ham10000/qc_patches.png"), caption="../report/ham10000_qc.rst", category="Data"),
    log:
        out("logs/ham10000/patches.log"),
    benchmark:
        out("benchmarks/ham10000/patches.tsv")
    conda:
        "../envs/drai.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        settings=as_params(ham_patch_set_settings(SETTINGS)),
    script:
        "../workflow_scripts/ham10000_patches.py"
