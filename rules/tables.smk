# Tables I-VI: per-run metrics aggregated over seeds, beside the paper's numbers.


rule table:
    input:
        metrics=table_metrics,
        evaluators=table_evaluators,
    output:
        md="results/tables/table{number}.md",
        tex="results/tables/table{number}.tex",
        csv="results/tables/table{number}.csv",
        html=report(
            "results/tables/table{number}.html",
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{number}"},
        ),
    log:
        "results/logs/tables/table{number}.log",
    benchmark:
        "results/benchmarks/tables/table{number}.tsv"
    wildcard_constraints:
        number="[1-6]",
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/table.py"


rule learning_check:
    input:
        trained=expand(
            "results/runs/{dataset}/DRAI/seed{seed}/metrics.json",
            dataset=TRAIN["datasets"],
            seed=TRAIN["seeds"],
        ),
        untrained=expand(
            "results/untrained/{dataset}/DRAI/seed{seed}/metrics.json",
            dataset=TRAIN["datasets"],
            seed=TRAIN["seeds"],
        ),
    output:
        md="results/tables/learning.md",
        csv=report("results/tables/learning.csv", caption="../report/learning.rst", category="Tables"),
    log:
        "results/logs/tables/learning.log",
    benchmark:
        "results/benchmarks/tables/learning.tsv"
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cgacc_margin=SETTINGS["evaluate"]["learning_cgacc_margin"],
    script:
        "../workflow_scripts/learning_check.py"


TABLES = expand("results/tables/table{number}.{ext}", number=TABLE_SPECS, ext=TABLE_FORMATS)
if "DRAI" in TRAIN["variants"]:
    TABLES += rules.learning_check.output

for _number in TABLE_SPECS:

    rule:
        name:
            f"table{_number}"
        input:
            expand("results/tables/table{number}.{ext}", number=_number, ext=TABLE_FORMATS),


# Beyond the paper: ground-truth disentanglement (with CIFC's rank agreement) and memorization.
for _kind, _caption in (("ground_truth", "ground_truth"), ("memorization", "memorization")):

    rule:
        name:
            f"{_kind}_table"
        input:
            runs=run_outputs(f"{_kind}.json"),
            metrics=run_outputs("metrics.json") if _kind == "ground_truth" else [],
        output:
            md=f"results/tables/{_kind}.md",
            csv=f"results/tables/{_kind}.csv",
            html=report(f"results/tables/{_kind}.html", caption=f"../report/{_caption}.rst", category="Tables"),
        log:
            f"results/logs/tables/{_kind}.log",
        benchmark:
            f"results/benchmarks/tables/{_kind}.tsv"
        conda:
            "../envs/drai.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            kind=_kind,
            variants=TRAIN["variants"],
        script:
            "../workflow_scripts/audit_tables.py"


TABLES += expand("results/tables/{kind}.{ext}", kind=("ground_truth", "memorization"), ext=("md", "csv", "html"))
