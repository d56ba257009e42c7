# Beyond the paper: are the generated images any use? Per run, a classifier trained on its generated
# images (CAS) and on them with the real ones; per dataset and seed, the same classifier on the real
# images alone. Then a table per dataset, a fidelity table per dataset (precision, recall, density,
# coverage, intra-class FID from metrics.json) and the figure of CAS against FID.


rule downstream_real:
    input:
        patches=out("data/{dataset}/patches.npz"),
    output:
        result=out("downstream/{dataset}/real_seed{seed}.json"),
    log:
        out("logs/downstream/{dataset}/real_seed{seed}.log"),
    benchmark:
        out("benchmarks/downstream/{dataset}/real_seed{seed}.tsv")
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=1,  # used when there is one; see profiles/slurm and profiles/local-gpus
    params:
        settings=lambda w: as_params(downstream_settings(SETTINGS, w.dataset)),
    script:
        "../workflow_scripts/downstream_real.py"


rule downstream_run:
    input:
        model=out("runs/{dataset}/{variant}/seed{seed}/model.pt"),
        patches=out("data/{dataset}/patches.npz"),
    output:
        result=out("runs/{dataset}/{variant}/seed{seed}/downstream.json"),
    log:
        out("logs/downstream/{dataset}/{variant}/seed{seed}.log"),
    benchmark:
        out("benchmarks/downstream/{dataset}/{variant}/seed{seed}.tsv")
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=1,  # used when there is one; see profiles/slurm and profiles/local-gpus
    params:
        settings=lambda w: as_params(downstream_settings(SETTINGS, w.dataset)),
    script:
        "../workflow_scripts/downstream_run.py"


rule downstream_table:
    input:
        real=lambda w: expand(out(f"downstream/{w.dataset}/real_seed{{seed}}.json"), seed=TRAIN["seeds"]),
        runs=dataset_runs("downstream.json"),
        metrics=dataset_runs("metrics.json"),
    output:
        md=out("tables/downstream_{dataset}.md"),
        csv=out("tables/downstream_{dataset}.csv"),
        html=report(
            out("tables/downstream_{dataset}.html"),
            caption="../report/downstream.rst",
            category="Tables",
            labels={"table": "downstream (not in the paper)", "data": "{dataset}"},
        ),
    log:
        out("logs/tables/downstream_{dataset}.log"),
    benchmark:
        out("benchmarks/tables/downstream_{dataset}.tsv")
    localrule: True
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        kind="downstream",
        variants=TRAIN["variants"],
    script:
        "../workflow_scripts/downstream_tables.py"


rule fidelity_table:
    input:
        metrics=dataset_runs("metrics.json"),
    output:
        md=out("tables/fidelity_{dataset}.md"),
        csv=out("tables/fidelity_{dataset}.csv"),
        html=report(
            out("tables/fidelity_{dataset}.html"),
            caption="../report/fidelity.rst",
            category="Tables",
            labels={"table": "fidelity (not in the paper)", "data": "{dataset}"},
        ),
    log:
        out("logs/tables/fidelity_{dataset}.log"),
    benchmark:
        out("benchmarks/tables/fidelity_{dataset}.tsv")
    localrule: True
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        kind="fidelity",
        variants=TRAIN["variants"],
    script:
        "../workflow_scripts/downstream_tables.py"


rule fig_cas_fid:
    input:
        real=expand(out("downstream/{dataset}/real_seed{seed}.json"), dataset=TRAIN["datasets"], seed=TRAIN["seeds"]),
        runs=run_outputs("downstream.json"),
        metrics=run_outputs("metrics.json"),
    output:
        figure=report(
            out("figures/cas_vs_fid.png"),
            caption="../report/fig_cas_fid.rst",
            category="Figures",
            labels={
                "figure": "not in the paper: CAS against FID",
                "kind": "scatter",
                "data": " + ".join(TRAIN["datasets"]),
            },
        ),
    log:
        out("logs/figures/fig_cas_fid.log"),
    benchmark:
        out("benchmarks/figures/fig_cas_fid.tsv")
    localrule: True
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        datasets=TRAIN["datasets"],
        variants=TRAIN["variants"],
    script:
        "../workflow_scripts/downstream_figure.py"


TABLES += expand(
    out("tables/{kind}_{dataset}.{ext}"),
    kind=("downstream", "fidelity"),
    dataset=TRAIN["datasets"],
    ext=("md", "csv", "html"),
)
FIGURES += [out("figures/cas_vs_fid.png")]
