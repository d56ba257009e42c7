import copy
from pathlib import Path

import pytest
import yaml

from drai.config import ConfigError, load_schema, resolve

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("preset", ["paper", "demo", "ci"])
def test_every_preset_resolves_completely(config, preset):
    config["preset"] = preset
    resolved = resolve(config)
    for section in ("lidc", "ham10000", "train", "evaluate"):
        assert set(resolved[section]) == set(load_schema()["$defs"][section]["properties"])


def test_paper_preset_uses_real_data_and_the_paper_geometry(config):
    config["preset"] = "paper"
    lidc = resolve(config)["lidc"]
    assert lidc["source"] == "nbia" and lidc["download"]
    assert (lidc["volume_size"], lidc["patch_size"], lidc["output_size"]) == (256, 48, 64)
    assert lidc["min_annotations"] == 3 and lidc["train_case_limit"] == 899


@pytest.mark.parametrize("preset", ["paper", "demo", "ci"])
def test_every_preset_augments_and_trains_the_budget_control(config, preset):
    """Section III-G's random flips and crops for every model; DAI+twice wherever the ablations are trained."""
    config["preset"] = preset
    train = resolve(config)["train"]
    assert train["augment"] is True
    assert "DAI+twice" in train["variants"] and "DAI+selfReg" in train["variants"]
    assert train["kl_reduction"] in ("mean", "sum")


def test_top_level_section_overrides_the_preset(config):
    config["preset"] = "ci"
    config["lidc"]["synthetic_cases"] = 2
    assert resolve(config)["lidc"]["synthetic_cases"] == 2


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c.update(preset="huge"), "preset"),
        (lambda c: c["lidc"].update(volume_sise=128), "lidc"),
        (lambda c: c["lidc"].update(patch_size="big"), "lidc.patch_size"),
        (lambda c: c["lidc"].update(source="ftp"), "lidc.source"),
        (lambda c: c["lidc"].update(hu_window=[400, -1000]), "lidc.hu_window"),
        (lambda c: c["lidc"].update(patch_slices=2), "lidc.patch_slices"),
        (lambda c: c["presets"]["ci"]["lidc"].update(synthetic_matrix=8), "presets.ci.lidc.synthetic_matrix"),
        (lambda c: c.update(lidcc={}), "(top level)"),
        (lambda c: c["ham10000"].update(classes=["nv", "cat"]), "ham10000.classes.1"),
        (lambda c: c["ham10000"].update(augment_classes=["df"]), "ham10000.augment_classes"),
        (lambda c: c["ham10000"].update(source="medmnist"), "ham10000.medmnist_npz"),
        (lambda c: c["train"].update(variants=["DRAI", "GAN"]), "train.variants.1"),
        (lambda c: c["train"].update(datasets=["lidc", "chestxray"]), "train.datasets.1"),
        (lambda c: c["train"].update(kl_reduction="max"), "train.kl_reduction"),
        (lambda c: c["train"].update(augment="yes"), "train.augment"),
        (lambda c: c["evaluate"].update(lidc_labels="colour"), "evaluate.lidc_labels"),
        (lambda c: c["evaluate"].update(samples="many"), "evaluate.samples"),
        (lambda c: c["evaluate"].update(steps={"lidc": 10}), "evaluate.steps"),
        (lambda c: c["evaluate"].update(cifc_pair=3), "evaluate"),
    ],
)
def test_bad_values_name_their_key(config, change, key):
    bad = copy.deepcopy(config)
    change(bad)
    with pytest.raises(ConfigError, match=f"config key {key.replace('(', '[(]').replace(')', '[)]')}"):
        resolve(bad)


def test_missing_key_is_named(config):
    del config["presets"]["demo"]["lidc"]["synthetic_cases"]
    with pytest.raises(ConfigError, match="lidc.synthetic_cases: not set"):
        resolve(config)
