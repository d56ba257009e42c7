# Tables I-VI: per-run metrics aggregated over seeds, beside the paper's numbers.


rule table:
    input:
        metrics=table_metrics,
        evaluators=table_evaluators,
    output:
        md=out("tables/table{number}.md"),
        tex=out("tables/table{number}.tex"),
        csv=out("tables/table{number}.csv"),
        html=report(
            out("tables/table{number}.html"),
            caption="../report/table.rst",
            category="Tables",
            labels={"table": "{number}"},
        ),
    log:
        out("logs/tables/table{number}.log"),
    benchmark:
        out("benchmarks/tables/table{number}.tsv")
    wildcard_constraints:
        number="|".join(map(str, TABLE_SPECS)),
    localrule: True
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
            out("runs/{dataset}/DRAI/seed{seed}/metrics.json"),
            dataset=TRAIN["datasets"],
            seed=TRAIN["seeds"],
        ),
        untrained=expand(
            out("untrained/{dataset}/DRAI/seed{seed}/metrics.json"),
            dataset=TRAIN["datasets"],
            seed=TRAIN["seeds"],
        ),
    output:
        md=out("tables/learning.md"),
        csv=report(out("tables/learning.csv"), caption="../report/learning.rst", category="Tables"),
    log:
        out("logs/tables/learning.log"),
    benchmark:
        out("benchmarks/tables/learning.tsv")
    localrule: True
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


TABLES = expand(out("tables/table{number}.{ext}"), number=TABLE_SPECS, ext=TABLE_FORMATS)
if "DRAI" in TRAIN["variants"]:
    TABLES += rules.learning_check.output

for _number in TABLE_SPECS:

    rule:
        name:
            f"table{_number}"
        input:
            expand(out("tables/table{number}.{ext}"), number=_number, ext=TABLE_FORMATS),
        localrule: True


# Beyond the paper: ground-truth disentanglement (with CIFC's rank agreement) and memorization.
for _kind, _caption in (("ground_truth", "ground_truth"), ("memorization", "memorization")):

    rule:
        name:
            f"{_kind}_table"
        input:
            runs=run_outputs(f"{_kind}.json"),
            metrics=run_outputs("metrics.json") if _kind == "ground_truth" else [],
        output:
            md=out(f"tables/{_kind}.md"),
            csv=out(f"tables/{_kind}.csv"),
            html=report(out(f"tables/{_kind}.html"), caption=f"../report/{_caption}.rst", category="Tables"),
        log:
            out(f"logs/tables/{_kind}.log"),
        benchmark:
            out(f"benchmarks/tables/{_kind}.tsv")
        localrule: True
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


TABLES += expand(out("tables/{kind}.{ext}"), kind=("ground_truth", "memorization"), ext=("md", "csv", "html"))
