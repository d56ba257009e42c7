"""The profiles and the cluster manual name every rule that asks for a GPU, and no other."""

import re
from pathlib import Path

import yaml

from workflow_rules import gpu_rules, local_rules

ROOT = Path(__file__).resolve().parent.parent


def test_the_rules_that_ask_for_a_gpu_are_found():
    assert {"train", "train_evaluator", "run_metrics", "downstream_real", "downstream_run"} <= gpu_rules()
    assert "table" not in gpu_rules() and "lidc_series" not in gpu_rules()


def test_each_gpu_profile_sets_the_gpu_of_every_gpu_rule():
    for name in ("slurm", "local-gpus"):
        profile = yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())
        asking = {rule for rule, resources in profile["set-resources"].items() if resources.get("gpu")}
        assert asking == gpu_rules(), name


def test_the_cpu_only_cluster_commands_ask_no_gpu_of_any_gpu_rule():
    # A rule left out of such a command still asks sbatch for a GPU, which a cluster without GPUs refuses.
    for path in (ROOT / "profiles" / "slurm" / "config.yaml", ROOT / "docs" / "clusters.md"):
        lines = path.read_text().splitlines()
        commands = [line for line in lines if "--set-resources train:gpu=0 train_evaluator" in line]
        assert commands, path
        for command in commands:
            assert set(re.findall(r"(\w+):gpu=0", command)) == gpu_rules(), (path, command)


def test_the_local_rules_are_found_and_ask_for_no_gpu():
    # The SLURM test counts the jobs it expects sbatch to receive as the planned jobs of the other rules.
    assert {"all", "table", "learning_check", "downstream_table", "fidelity_table", "fig_cas_fid"} <= local_rules()
    assert not local_rules() & gpu_rules()
    assert "lidc_series" not in local_rules()  # local only when it downloads, which the ci preset does not
