# Evaluation: the evaluator network per dataset, then the metrics of every run.

from drai.metrics.settings import imagenet_weights_path

EVALUATE = SETTINGS["evaluate"]
# The ImageNet weights file a preset downloads (empty when evaluate.weights is
# not 'imagenet'): a download, like the data.
IMAGENET_WEIGHTS = [str(imagenet_weights_path(EVALUATE["imagenet_url"]))] if EVALUATE["weights"] == "imagenet" else []


wildcard_constraints:
    stage="runs|untrained",


if IMAGENET_WEIGHTS:

    rule imagenet_weights:
        output:
            weights=IMAGENET_WEIGHTS[0],
        log:
            out("logs/evaluator/imagenet_weights.log"),
        localrule: True
        conda:
            "../envs/drai.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        script:
            "../workflow_scripts/imagenet_weights.py"


rule train_evaluator:
    input:
        patches=out("data/{dataset}/patches.npz"),
        imagenet_weights=IMAGENET_WEIGHTS,
    output:
        model=out("evaluators/{dataset}/evaluator.pt"),
        report=out("evaluators/{dataset}/evaluator.json"),
    log:
        out("logs/evaluator/{dataset}.log"),
    benchmark:
        out("benchmarks/evaluator/{dataset}.tsv")
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=6000,
        runtime=240,
        gpu=1,  # used when there is one; see profiles/slurm and profiles/local-gpus
    params:
        # Only what this dataset's evaluator depends on: other evaluate keys retrain nothing.
        settings=lambda w: as_params(evaluator_settings(SETTINGS, w.dataset)),
    script:
        "../workflow_scripts/train_evaluator.py"


rule untrained_model:
    input:
        patches=out("data/{dataset}/patches.npz"),
    output:
        model=out("untrained/{dataset}/{variant}/seed{seed}/model.pt"),
    log:
        out("logs/untrained/{dataset}/{variant}/seed{seed}.log"),
    benchmark:
        out("benchmarks/untrained/{dataset}/{variant}/seed{seed}.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=lambda w: as_params(train_settings(SETTINGS, w.dataset, int(w.seed))),
    script:
        "../workflow_scripts/untrained_model.py"


rule run_metrics:
    input:
        model=out("{stage}/{dataset}/{variant}/seed{seed}/model.pt"),
        patches=out("data/{dataset}/patches.npz"),
        evaluator=rules.train_evaluator.output.model,
        evaluator_report=rules.train_evaluator.output.report,
    output:
        metrics=out("{stage}/{dataset}/{variant}/seed{seed}/metrics.json"),
    log:
        out("logs/metrics/{stage}/{dataset}/{variant}/seed{seed}.log"),
    benchmark:
        out("benchmarks/metrics/{stage}/{dataset}/{variant}/seed{seed}.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=1,  # used when there is one; see profiles/slurm and profiles/local-gpus
    params:
        settings=lambda w: as_params(evaluation_settings(SETTINGS, w.dataset)),
        preset=SETTINGS["preset"],  # recorded in metrics.json
    script:
        "../workflow_scripts/run_metrics.py"


# Table IV's "Pixel Matched" row, on a dataset with retrieval sets.
rule pixel_matched:
    input:
        patches=out("data/{dataset}/patches.npz"),
    output:
        metrics=out("metrics/{dataset}/pixel_matched.json"),
    log:
        out("logs/metrics/{dataset}/pixel_matched.log"),
    benchmark:
        out("benchmarks/metrics/{dataset}/pixel_matched.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        top_n=EVALUATE["retrieval_top_n"],
    script:
        "../workflow_scripts/pixel_matched.py"


# Beyond the paper: per run the ground-truth disentanglement and the memorization audit
# (docs/beyond-the-paper.md). Datasets whose factors are known: those that declare factors, on their
# embedded synthetic data (each one's rule file writes data/<key>/factors.csv); real data has none.
SYNTHETIC_DATASETS = [
    d for d in TRAIN["datasets"] if SETTINGS[d].get("source") == "synthetic" and registry.get_dataset(d).factors
]


rule reference_features:
    input:
        patches=out("data/{dataset}/patches.npz"),
        evaluator=rules.train_evaluator.output.model,
    output:
        features=out("evaluators/{dataset}/reference_features.npz"),
    log:
        out("logs/audit/{dataset}/reference_features.log"),
    benchmark:
        out("benchmarks/audit/{dataset}/reference_features.tsv")
    conda:
        CONDA_ENV
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        # The dataset's label options (what the evaluator's classes are), as the metrics read them.
        options=lambda w: evaluation_settings(SETTINGS, w.dataset).options,
        batch_size=SETTINGS["evaluate"]["batch_size_eval"],
    script:
        "../workflow_scripts/reference_features.py"


rule audit_run:
    input:
        model=out("runs/{dataset}/{variant}/seed{seed}/model.pt"),
        patches=out("data/{dataset}/patches.npz"),
        evaluator=rules.train_evaluator.output.model,
        reference=rules.reference_features.output.features,
        factors=lambda w: ([out(f"data/{w.dataset}/factors.csv")] if w.dataset in SYNTHETIC_DATASETS else []),
    output:
        ground_truth=out("runs/{dataset}/{variant}/seed{seed}/ground_truth.json"),
        memorization=out("runs/{dataset}/{variant}/seed{seed}/memorization.json"),
        pairs=out("runs/{dataset}/{variant}/seed{seed}/memorization_pairs.npz"),
    log:
        out("logs/audit/{dataset}/{variant}/seed{seed}.log"),
    benchmark:
        out("benchmarks/audit/{dataset}/{variant}/seed{seed}.tsv")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        audit=as_params(audit_settings(SETTINGS)),
        settings=lambda w: as_params(evaluation_settings(SETTINGS, w.dataset)),
    script:
        "../workflow_scripts/audit_run.py"
