"""A third dataset from its package alone: tests/datasets/toy/ (a package, its config section's schema, its
settings and its rule file), registered through the config key ``dataset_folders``, runs through training,
evaluation, the audit and a figure in the ``ci`` preset with no change to any other file."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import drai.data
from drai.config import ConfigError, load_schema, resolve
from drai.data import registry

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "tests" / "datasets"
TOY = {"source": "synthetic", "items": 48, "seed": 0, "render_threads": 1}


@pytest.fixture
def with_toy():
    """The registry with the toy dataset for one test, as it was afterwards."""
    before = list(drai.data.__path__)
    registry.add_dataset_folders([FOLDER])
    yield
    drai.data.__path__[:] = before
    registry.datasets.cache_clear()
    for name in [m for m in sys.modules if m.startswith("drai.data.toy")]:
        del sys.modules[name]


def toy_config(**train) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(preset="ci", dataset_folders=[str(FOLDER)], toy=dict(TOY))
    config["train"].update(datasets=["toy"], variants=["DRAI"], seeds=[0], average_window=0, **train)
    return config


def test_the_toy_package_joins_the_registry_schema_and_settings(with_toy):
    assert "toy" in registry.datasets() and registry.rule_file("toy").name == "rules.smk"
    schema = load_schema()
    assert schema["$defs"]["dataset"]["enum"][-1] == "toy"
    assert "render_threads" in schema["$defs"]["toy"]["properties"]
    assert "transport" not in schema["$defs"]["toy"]["properties"]["render_threads"]
    resolved = resolve(toy_config())
    assert resolved["toy"]["items"] == 48
    from drai.settings import job_list_keys, transport, transport_keys

    assert transport_keys()["toy"] == ("render_threads",) and job_list_keys()["toy"] == ()
    assert transport(toy_config(), "toy") == {"render_threads": 1}


def test_the_toy_sections_own_checks_and_per_dataset_values_name_their_key(with_toy):
    config = toy_config()
    config["toy"]["items"] = 47
    with pytest.raises(ConfigError, match="config key toy.items: must be even"):
        resolve(config)
    config = toy_config(steps={"lidc": 3})
    with pytest.raises(ConfigError, match=r"config key train.steps: no value for toy"):
        resolve(config)
    config = toy_config()
    del config["toy"]["seed"]
    with pytest.raises(ConfigError, match="config key toy.seed: not set"):
        resolve(config)


def test_a_config_without_the_folder_knows_no_toy():
    config = toy_config()
    del config["dataset_folders"]
    with pytest.raises(ConfigError, match="unknown key.*'toy'|'toy' is not one of"):
        resolve(config)


def test_a_dataset_folder_that_is_not_one_is_refused_with_its_key(tmp_path):
    config = toy_config()
    config["dataset_folders"] = [str(tmp_path / "nowhere")]
    with pytest.raises(ConfigError, match=r"config key dataset_folders: .*nowhere is not a folder"):
        resolve(config)
    assert "nowhere" not in " ".join(drai.data.__path__)


def test_the_toy_patch_set_keeps_the_contract(with_toy, tmp_path):
    from drai.data.toy.draw import draw

    from drai.data.patchset import PatchSet, contract_errors

    patches, factors = draw(12, 0)
    patches.save(tmp_path / "patches.npz")
    loaded = PatchSet.load(tmp_path / "patches.npz", "toy")
    assert contract_errors(loaded) == [] and len(loaded) == 12
    assert list(factors.columns) == ["row", "item", "split", "brightness", "shape"]


@pytest.mark.slow
def test_the_toy_dataset_runs_through_training_evaluation_the_audit_and_a_figure(tmp_path):
    overlay = tmp_path / "toy.yaml"
    toy = toy_config()
    overlay.write_text(
        yaml.safe_dump(
            {"preset": "ci", "dataset_folders": toy["dataset_folders"], "toy": toy["toy"], "train": toy["train"]}
        )
    )
    work = tmp_path / "work"
    results = work / "results" / "ci"
    # Targets as the workflow names them, relative to its working directory.
    targets = [
        "results/ci/runs/toy/DRAI/seed0/metrics.json",
        "results/ci/runs/toy/DRAI/seed0/ground_truth.json",
        "results/ci/figures/ground_truth_probes.png",
        "results/ci/tables/fidelity_toy.md",
    ]
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(ROOT / "config.yaml"),
        str(overlay),
        "--directory",
        str(work),
        "--cores",
        "2",
        *targets,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "toy_patches" in result.stderr
    metrics, truth, figure, table = (work / target for target in targets)
    metrics = json.loads(metrics.read_text())
    assert metrics["dataset"] == "toy" and metrics["metrics"]["fid_logits"] >= 0
    truth = json.loads(truth.read_text())
    assert truth["available"] and {row["factor"] for row in truth["scores"]} == {"brightness", "shape"}
    assert figure.stat().st_size > 0 and "Toy" in table.read_text()
    factors = pd.read_csv(results / "data/toy/factors.csv")
    assert len(factors) == TOY["items"]
    # The trained model is of use on its own: the drai command takes the dataset's folder.
    sample = tmp_path / "toy_samples.png"
    drai = [sys.executable, "-m", "drai.cli", "--dataset-folder", str(FOLDER), "sample"]
    model, patches = results / "runs/toy/DRAI/seed0/model.pt", results / "data/toy/patches.npz"
    done = subprocess.run(
        [*drai, str(model), "--data", str(patches), "-n", "2", "-o", str(sample)], capture_output=True
    )
    assert done.returncode == 0 and sample.stat().st_size > 0, done.stderr.decode()[-2000:]
    unknown = subprocess.run(
        [sys.executable, "-m", "drai.cli", "sample", str(model), "--data", str(patches)], capture_output=True
    )
    assert unknown.returncode == 2 and "unknown dataset 'toy'" in unknown.stderr.decode()
    # Nothing of the paper's datasets was made.
    assert not (results / "data/lidc").exists() and not (results / "data/ham10000").exists()
