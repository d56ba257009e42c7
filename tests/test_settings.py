"""Each rule's settings: built one way from the resolved config, only what changes the rule's output."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from drai.config import load_schema, resolve
from drai.data.ham10000.settings import ham_download, ham_patch_set_settings, raw_settings
from drai.data.lidc.settings import (
    label_settings,
    lidc_download,
    lidc_patch_set_settings,
    patch_settings,
    series_settings,
)
from drai.metrics.settings import audit_settings, downstream_settings, evaluation_settings, evaluator_settings
from drai.settings import as_params, from_params, job_list_keys, transport, transport_keys
from drai.train.settings import train_settings

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("lidc", "ham10000")


def preset(name: str, **sections) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section, values in sections.items():
        config[section] = {**config.get(section, {}), **values}
    return {**config, "preset": name}


def every_settings(config: dict) -> list:
    return [
        label_settings(config),
        series_settings(config),
        patch_settings(config),
        lidc_patch_set_settings(config),
        raw_settings(config),
        ham_patch_set_settings(config),
        train_settings(config, "lidc", 3),
        *(evaluator_settings(config, d) for d in DATASETS),
        *(evaluation_settings(config, d) for d in DATASETS),
        *(downstream_settings(config, d) for d in DATASETS),
    ]


def rule_params(config: dict) -> dict:
    """What each rule of rules/*.smk gets as params, for both datasets and two seeds."""
    return {
        "lidc_nodules": as_params(label_settings(config)),
        "lidc_series": as_params(series_settings(config)),
        "lidc_case_patches": as_params(patch_settings(config)),
        "lidc_patches": as_params(lidc_patch_set_settings(config)),
        "ham10000_raw": as_params(raw_settings(config)),
        "ham10000_patches": as_params(ham_patch_set_settings(config)),
        "train": [as_params(train_settings(config, d, seed)) for d in DATASETS for seed in (0, 1)],
        "train_evaluator": [as_params(evaluator_settings(config, d)) for d in DATASETS],
        "run_metrics": [as_params(evaluation_settings(config, d)) for d in DATASETS] + [config["preset"]],
        "pixel_matched": config["evaluate"]["retrieval_top_n"],
        "learning_check": config["evaluate"]["learning_cgacc_margin"],
        "lidc_factors": series_settings(config).synthetic and as_params(series_settings(config).synthetic),
        "reference_features": [evaluation_settings(config, d).options for d in DATASETS]
        + [config["evaluate"]["batch_size_eval"]],
        "audit_run": [as_params(audit_settings(config))]
        + [as_params(evaluation_settings(config, d)) for d in DATASETS],
        # The real-only reference and each run's classifiers: the same settings.
        "downstream_real": [as_params(downstream_settings(config, d)) for d in DATASETS],
        "downstream_run": [as_params(downstream_settings(config, d)) for d in DATASETS],
    }


# A changed value of every key; hosts changed, file names kept (imagenet_url's file name names the weights).
CHANGED = {
    "lidc": {
        "source": "nbia",
        "series_dir": "elsewhere/LIDC-IDRI",
        "synthetic_dir": "elsewhere/synthetic",
        "download": "flip",
        "api_url": "https://mirror.example.org/nbia",
        "idc_endpoint_url": "https://mirror.example.org",
        "download_retries": 9,
        "download_timeout_s": 7.0,
        "max_slice_gap_mm": 6.0,
        "label_scans": 10,
        "synthetic_cases": 2,
        "synthetic_matrix": 64,
        "synthetic_slice_spacing_mm": 2.5,
        "min_annotations": 2,
        "consensus_level": 0.25,
        "train_case_limit": 500,
        "volume_size": 128,
        "patch_size": 32,
        "output_size": 72,
        "stored_size": 80,
        "hu_window": [-1100, 300],
        "patch_slices": 3,
        "seed": 1,
        "evaluator_labels": "malignancy",
        "evaluator_slices": "all",
    },
    "ham10000": {
        "source": "dataverse",
        "raw_dir": "elsewhere/raw",
        "synthetic_dir": "elsewhere/synthetic",
        "download": "flip",
        "server": "https://mirror.example.org",
        "doi": "doi:10.1234/OTHER",
        "download_retries": 9,
        "download_timeout_s": 7.0,
        "medmnist_npz": "other.npz",
        "classes": ["nv", "mel"],
        "augment_classes": ["mel"],
        "augment_copies": 1,
        "patch_size": 40,
        "output_size": 72,
        "stored_size": 80,
        "crop": "per_lesion",
        "crop_fraction": 0.5,
        "lesion_margin": 1.5,
        "min_crop_fraction": 0.5,
        "test_fraction": 0.3,
        "seed": 1,
        "synthetic_train_images": 99,
        "synthetic_test_images": 9,
        "synthetic_width": 100,
        "synthetic_height": 80,
    },
    "train": {
        "datasets": ["lidc"],
        "variants": ["DRAI"],
        "seeds": [5],
        "steps": 3,
        "batch_size": 8,
        "width": 8,
        "z_dim": 8,
        "c_dim": 8,
        "lr": 1e-3,
        "beta1": 0.9,
        "checkpoint_every": 2,
        # Valid in every context: ci averages 1 step of LIDC's 2, every step; paper averages nothing.
        "average_window": 0,
        "average_every": 1,
        "augment": "flip",
        "kl_reduction": "sum",
        "device": "cpu",
        "loss_readback_every": 10,
        "fused_adam": "flip",
        "compile_mode": "default",
        "cuda_graph": "flip",
        "runs_per_gpu": 3,
    },
    "evaluate": {
        "weights": "local.pth",
        "imagenet_url": "https://mirror.example.org/models/inception_v3_google-0cc3c7bd.pth",
        "input_size": 128,
        "steps": 5,
        "batch_size": 8,
        "lr": 1e-4,
        "samples": 4,
        "cifc_pairs": 4,
        "retrieval_top_n": 1,
        "batch_size_eval": 7,
        "seed": 1,
        "device": "cpu",
        "learning_cgacc_margin": 0.2,
    },
    "audit": {
        "ground_truth_probe": "tree",
        "ground_truth_folds": 3,
        "ground_truth_max_items": 50,
        "memorization_flag_share": 0.2,
    },
    "downstream": {
        "classifier": "resnet18",
        "steps": 7,
        "batch_size": 16,
        "lr": 1e-4,
    },
}

# Where each key can matter: synthetic data (ci), real data (paper), MedMNIST's file.
CONTEXTS = {
    "ci": resolve(preset("ci")),
    "paper": resolve(preset("paper")),
    "medmnist": resolve(preset("ci", ham10000={"source": "medmnist", "medmnist_npz": "dermamnist_64.npz"})),
}


def changed(config: dict, section: str, key: str) -> dict:
    config = copy.deepcopy(config)
    value = CHANGED[section][key]
    config[section][key] = (not config[section][key]) if value == "flip" else value
    return config


def test_every_config_key_has_a_changed_value_here():
    schema = load_schema()
    for section, keys in CHANGED.items():
        assert set(keys) == set(schema["$defs"][section]["properties"]), section


@pytest.mark.parametrize("section", list(CHANGED))
def test_transport_keys_reach_no_rule_and_every_other_key_reaches_one(section):
    unread = set(transport_keys().get(section, ())) | set(job_list_keys().get(section, ()))
    for key in CHANGED[section]:
        changes = [
            name
            for config in CONTEXTS.values()
            for name, params in rule_params(config).items()
            if params != rule_params(changed(config, section, key))[name]
        ]
        if key in unread:
            assert not changes, f"{section}.{key} changes the params of {changes}"
        else:
            assert changes, f"{section}.{key} changes no rule's params: mark it transport or job_list"


def test_a_key_reaches_only_the_rules_whose_output_it_changes():
    def rules_changed(section, key, context="ci"):
        config = CONTEXTS[context]
        before, after = rule_params(config), rule_params(changed(config, section, key))
        return {name for name in before if before[name] != after[name]}

    assert rules_changed("lidc", "hu_window") == {"lidc_case_patches"}
    assert rules_changed("lidc", "min_annotations") == {"lidc_nodules"}
    assert rules_changed("lidc", "source") == {"lidc_series", "lidc_patches", "lidc_factors"}
    assert rules_changed("lidc", "series_dir") == set()  # synthetic data: series_dir is not read
    assert rules_changed("lidc", "series_dir", "paper") == {"lidc_series"}
    assert rules_changed("ham10000", "raw_dir", "paper") == {"ham10000_raw"}
    assert rules_changed("ham10000", "seed") == {"ham10000_raw", "ham10000_patches"}
    assert rules_changed("train", "lr") == {"train"}
    assert rules_changed("lidc", "evaluator_labels") == {
        "train_evaluator",
        "run_metrics",
        "reference_features",
        "audit_run",
        "downstream_real",
        "downstream_run",
    }
    assert rules_changed("evaluate", "samples") == {"run_metrics", "audit_run"}
    assert rules_changed("audit", "ground_truth_probe") == {"audit_run"}
    assert rules_changed("downstream", "steps") == {"downstream_real", "downstream_run"}
    # The LIDC label choice reaches the LIDC evaluator and metrics only.
    config = CONTEXTS["ci"]
    other = changed(config, "lidc", "evaluator_labels")
    assert evaluator_settings(other, "ham10000") == evaluator_settings(config, "ham10000")
    assert evaluation_settings(other, "ham10000") == evaluation_settings(config, "ham10000")
    assert downstream_settings(other, "ham10000") == downstream_settings(config, "ham10000")
    assert evaluator_settings(other, "lidc") != evaluator_settings(config, "lidc")
    # The LIDC evaluator's slices reach the LIDC evaluator alone (not the metrics, which read its file).
    assert rules_changed("lidc", "evaluator_slices") == {"train_evaluator"}
    slices = changed(config, "lidc", "evaluator_slices")
    assert evaluator_settings(slices, "lidc").options["evaluator_slices"] == "all"
    assert evaluator_settings(slices, "ham10000") == evaluator_settings(config, "ham10000")


@pytest.mark.parametrize("context", list(CONTEXTS))
def test_params_are_plain_values_that_rebuild_the_same_settings(context):
    for settings in every_settings(CONTEXTS[context]):
        params = as_params(settings)
        assert json.loads(json.dumps(params)) == params  # plain: compared by value, stored in the metadata
        assert from_params(type(settings), params) == settings


def test_settings_hold_the_resolved_values():
    ci = CONTEXTS["ci"]
    assert patch_settings(ci).hu_window == (-1000, 400) and patch_settings(ci).max_slice_gap_mm == 5.0
    assert series_settings(ci).root == "resources/synthetic/ci/lidc" and series_settings(ci).synthetic.matrix == 96
    paper = CONTEXTS["paper"]
    assert series_settings(paper).root == "resources/lidc/LIDC-IDRI" and series_settings(paper).synthetic is None
    assert raw_settings(paper).root == "resources/ham10000/raw" and raw_settings(paper).synthetic is None
    assert raw_settings(CONTEXTS["medmnist"]).medmnist_npz == "dermamnist_64.npz"
    assert train_settings(paper, "lidc", 2).lr == 1e-5 and train_settings(paper, "lidc", 2).seed == 2
    assert evaluator_settings(paper, "lidc").weights.endswith("inception_v3_google-0cc3c7bd.pth")
    assert evaluation_settings(paper, "lidc").batch_size == paper["evaluate"]["batch_size_eval"]
    # The downstream classifier: ResNet-18 for the paper preset, the small CNN for ci; the LIDC task is the evaluator's.
    assert downstream_settings(paper, "lidc").classifier == "resnet18" and downstream_settings(ci, "lidc").steps == 3
    assert (
        downstream_settings(paper, "lidc").options == {"evaluator_labels": "size"}
        and downstream_settings(paper, "ham10000").options == {}
    )


def test_train_steps_per_dataset_reach_each_datasets_runs():
    config = resolve(preset("ci", train={"steps": {"lidc": 2, "ham10000": 6}}))
    assert [train_settings(config, d, 0).steps for d in ("lidc", "ham10000")] == [2, 6]
    assert train_settings(resolve(preset("ci", train={"steps": 4})), "ham10000", 1).steps == 4
    assert train_settings(config, "ham10000", 1).seed == 1


def test_the_averaging_window_per_dataset_reaches_each_datasets_runs():
    ci = CONTEXTS["ci"]
    assert [train_settings(ci, d, 0).averaged_steps() for d in ("lidc", "ham10000")] == [[1, 2], []]
    paper = CONTEXTS["paper"]
    assert train_settings(paper, "lidc", 0).averaged_steps() == []  # the paper's: the last step's weights
    with pytest.raises(ValueError, match=r"train.average_window \(3\) must be below train.steps \(2\)"):
        train_settings(resolve(preset("ci", train={"average_window": 3})), "lidc", 0)


def test_transport_comes_from_the_config_as_given():
    config = preset("paper", lidc={"download_timeout_s": "7"}, ham10000={"download": False})
    assert transport(config, "lidc")["download_timeout_s"] == 7  # resolved: --config's text read as a number
    assert lidc_download(config)["download_options"] == {"retries": 5, "timeout_s": 7}
    assert lidc_download(config)["idc_endpoint_url"] == "https://s3.amazonaws.com"
    assert ham_download(config) is None
    assert ham_download(preset("paper"))["doi"] == "doi:10.7910/DVN/DBW86T"


def test_a_settings_field_without_its_config_key_is_named():
    config = copy.deepcopy(CONTEXTS["ci"])
    del config["train"]["beta1"]
    with pytest.raises(KeyError, match="TrainSettings.beta1: no config key train.beta1"):
        train_settings(config, "lidc", 0)
