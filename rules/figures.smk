# Figures 10-19 of the paper, from the trained runs (no retraining).
#
# One rule per figure, named fig10 ... fig19 (`snakemake --cores 1 fig12`),
# each writing one PNG (`drai.figures.specs.FIGURE_SPECS` holds its kind, dataset(s),
# models and file name). A figure uses the preset's first training seed and
# only the models the preset trains; FIGURES lists those with at least one.

FIGURES = [out(spec.path) for spec in FIGURE_SPECS.values() if any(figure_runs(spec).values())]


for _spec in FIGURE_SPECS.values():

    rule:
        name:
            _spec.name
        input:
            patches=[out(f"data/{dataset}/patches.npz") for dataset in figure_runs(_spec)],
            models=[path for runs in figure_runs(_spec).values() for path in runs.values()],
        output:
            figure=report(
                out(_spec.path),
                caption=f"../report/{_spec.name}.rst",
                category="Figures",
                labels={"figure": f"Fig. {_spec.number}", "kind": _spec.kind, "data": " + ".join(_spec.datasets)},
            ),
        log:
            out(f"logs/figures/{_spec.name}.log"),
        benchmark:
            out(f"benchmarks/figures/{_spec.name}.tsv")
        localrule: True
        conda:
            "../envs/drai.yaml"
        threads: 1
        resources:
            mem_mb=3000,
            runtime=15,
        params:
            figure=_spec.number,
            datasets=list(figure_runs(_spec)),
            runs=figure_runs(_spec),
            run_seed=FIGURE_RUN_SEED,
        script:
            "../workflow_scripts/figures.py"


# Beyond the paper: each two-code model's factor x code probe scores (first seed), and the
# generated images of DRAI closest to a training image.
rule fig_ground_truth:
    input:
        runs=expand(
            out("runs/{dataset}/{variant}/seed{seed}/ground_truth.json"),
            dataset=TRAIN["datasets"],
            variant=TRAIN["variants"],
            seed=FIGURE_RUN_SEED,
        ),
    output:
        figure=report(
            out("figures/ground_truth_probes.png"),
            caption="../report/fig_ground_truth.rst",
            category="Figures",
            labels={
                "figure": "not in the paper: ground truth",
                "kind": "probes",
                "data": " + ".join(TRAIN["datasets"]),
            },
        ),
    log:
        out("logs/figures/fig_ground_truth.log"),
    benchmark:
        out("benchmarks/figures/fig_ground_truth.tsv")
    localrule: True
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        kind="ground_truth",
    script:
        "../workflow_scripts/audit_figures.py"


MEMORIZATION_MODEL = "DRAI" if "DRAI" in TRAIN["variants"] else TRAIN["variants"][0]


rule fig_memorization:
    input:
        runs=expand(
            out("runs/{dataset}/{variant}/seed{seed}/memorization_pairs.npz"),
            dataset=TRAIN["datasets"],
            variant=MEMORIZATION_MODEL,
            seed=FIGURE_RUN_SEED,
        ),
    output:
        figure=report(
            out("figures/memorization_pairs.png"),
            caption="../report/fig_memorization.rst",
            category="Figures",
            labels={
                "figure": "not in the paper: memorization",
                "kind": "pairs",
                "data": " + ".join(TRAIN["datasets"]),
            },
        ),
    log:
        out("logs/figures/fig_memorization.log"),
    benchmark:
        out("benchmarks/figures/fig_memorization.tsv")
    localrule: True
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        kind="memorization",
        datasets=TRAIN["datasets"],
        model=MEMORIZATION_MODEL,
    script:
        "../workflow_scripts/audit_figures.py"


FIGURES += [out("figures/ground_truth_probes.png"), out("figures/memorization_pairs.png")]
