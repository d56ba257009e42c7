"""The conda environment that rules name pins what pyproject.toml pins (with the slurm extra)."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_conda_env_pins_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "envs" / "drai.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pinned = {line for line in pip_section if not line.startswith("-")}
    assert pinned == set(project["dependencies"]) | set(project["optional-dependencies"]["slurm"])
    assert "python=3.11" in env["dependencies"]
