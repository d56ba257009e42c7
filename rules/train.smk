# Training: one run per (dataset, variant, seed).


rule train:
    input:
        patches="results/data/{dataset}/patches.npz",
    output:
        model="results/runs/{dataset}/{variant}/seed{seed}/model.pt",
        losses="results/runs/{dataset}/{variant}/seed{seed}/losses.csv",
        config="results/runs/{dataset}/{variant}/seed{seed}/config.yaml",
        card="results/runs/{dataset}/{variant}/seed{seed}/model_card.md",
        curve=report(
            "results/runs/{dataset}/{variant}/seed{seed}/losses.png",
            caption="../report/loss_curve.rst",
            category="Training",
            subcategory="{dataset}",
            labels={"variant": "{variant}", "seed": "{seed}"},
        ),
    log:
        "results/logs/train/{dataset}/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{dataset}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=1,  # one slot of a GPU when there is one; see profiles/slurm and profiles/local-gpus
        # Slots per GPU, for drai.devices.claim_device; a resource, not a param: it retrains nothing.
        runs_per_gpu=TRAIN["runs_per_gpu"],
    params:
        settings=lambda w: as_params(train_settings(SETTINGS, w.dataset, int(w.seed))),
    script:
        "../workflow_scripts/train.py"
