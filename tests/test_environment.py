"""The conda environment that rules name pins what pyproject.toml pins (with the slurm extra),
and builds where snakemake builds it."""

import os
import subprocess
import sys
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


PATH_OPTIONS = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")


def local_paths(pip_entries: list[str]) -> list[str]:
    """What pip reads from disk in these requirement lines: option arguments and bare paths."""
    paths = []
    for entry in pip_entries:
        option, _, argument = entry.partition(" ")
        if option in PATH_OPTIONS:
            paths.append(argument.strip())
        elif entry.startswith((".", "/", "~", "file:")):
            paths.append(entry)
    return paths


def test_conda_env_resolves_from_where_snakemake_copies_it(tmp_path):
    # `--sdm conda` copies the file to <workdir>/.snakemake/conda/<hash>.yaml and builds the
    # environment from the copy, so pip resolves relative paths from there.
    copy = tmp_path / ".snakemake" / "conda" / "0123abcd.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((ROOT / "envs" / "drai.yaml").read_bytes())
    env = yaml.safe_load(copy.read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    for path in local_paths(pip_section):
        target = (copy.parent / path.removeprefix("file:")).expanduser().resolve()
        installable = target.is_file() or (target / "pyproject.toml").exists() or (target / "setup.py").exists()
        assert installable, f"envs/drai.yaml: {path!r} names nothing installable from {copy.parent}"


def test_local_paths_finds_editable_installs():
    assert local_paths(["numpy==2.3.5", "-e ..", "-r requirements.txt", "./wheel.whl"]) == \
        ["..", "requirements.txt", "./wheel.whl"]


def test_workflow_scripts_import_drai_from_the_workflow_folder(tmp_path):
    # -S: no site-packages, so nothing installed can supply `drai`; _common must find the workflow's own.
    code = ("import sys; sys.path.append(sys.argv[1]); import _common, drai; print(drai.__file__)")
    result = subprocess.run([sys.executable, "-S", "-c", code, str(ROOT / "workflow_scripts")], cwd=tmp_path,
                            env={"PATH": os.environ.get("PATH", "")}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT / "drai" / "__init__.py"
