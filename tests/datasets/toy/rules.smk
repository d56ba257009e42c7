# The toy dataset: one rule draws its patches and their factors.

from drai.data.toy import settings as toy_settings

DATA_TARGETS["toy"] = [out("data/toy/patches.npz")]


rule toy_patches:
    output:
        patches=out("data/toy/patches.npz"),
        factors=out("data/toy/factors.csv"),
    log:
        out("logs/toy/patches.log"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        step="drai.data.toy.steps:patches",
        settings=as_params(toy_settings.toy_settings(SETTINGS)),
    script:
        DATASET_STEP
