# Training: one run per (dataset, variant, seed).


rule train:
    input:
        patches=out("data/{dataset}/patches.npz"),
    output:
        model=out("runs/{dataset}/{variant}/seed{seed}/model.pt"),
        losses=out("runs/{dataset}/{variant}/seed{seed}/losses.csv"),
        config=out("runs/{dataset}/{variant}/seed{seed}/config.yaml"),
        card=out("runs/{dataset}/{variant}/seed{seed}/model_card.md"),
        curve=report(
            out("runs/{dataset}/{variant}/seed{seed}/losses.png"),
            caption="../report/loss_curve.rst",
            category="Training",
            subcategory="{dataset}",
            labels={"variant": "{variant}", "seed": "{seed}"},
        ),
    log:
        out("logs/train/{dataset}/{variant}/seed{seed}.log"),
    benchmark:
        out("benchmarks/train/{dataset}/{variant}/seed{seed}.tsv")
    conda:
        "../envs/drai.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        # Minutes per job; a longer run continues in its requeued job (profiles/slurm, "Time limits").
        runtime=240,
        gpu=1,  # one slot of a GPU when there is one; see profiles/slurm and profiles/local-gpus
        # Slots per GPU, for drai.devices.claim_device; a resource, not a param: it retrains nothing.
        runs_per_gpu=TRAIN["runs_per_gpu"],
    params:
        settings=lambda w: as_params(train_settings(SETTINGS, w.dataset, int(w.seed))),
    script:
        "../workflow_scripts/train.py"
