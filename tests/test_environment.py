"""The conda environment that rules name pins what pyproject.toml pins (with the slurm extra),
and builds where snakemake builds it."""

import json
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
    assert local_paths(["numpy==2.3.5", "-e ..", "-r requirements.txt", "./wheel.whl"]) == [
        "..",
        "requirements.txt",
        "./wheel.whl",
    ]


def test_workflow_scripts_import_drai_from_the_workflow_folder(tmp_path):
    # -S: no site-packages, so nothing installed can supply `drai`; _common must find the workflow's own.
    code = "import sys; sys.path.append(sys.argv[1]); import _common, drai; print(drai.__file__)"
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(ROOT / "workflow_scripts")],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT / "drai" / "__init__.py"


# The README's commands, each run here (in a scratch folder on the ci preset) in a process that
# writes the modules it imported. The report is made for one target that marks no file for the report,
# so that it needs no finished run; it imports what every report does.
README_COMMANDS = {
    "snakemake --report report.html": ["snakemake", "--report", "report.html", "results/ci/data/lidc/nodules.csv"],
    "snakemake -n": ["snakemake", "-n"],
    "drai variants": ["drai", "variants"],
}
RECORD_MODULES = """\
import atexit, json, sys
out, program = sys.argv[1], sys.argv[2]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = [program, *sys.argv[3:]]
if program == "snakemake":
    from snakemake.cli import main
else:
    from drai.cli import main
sys.exit(main())
"""
# Imported only because they are installed here, not needed: snakemake loads every executor plugin
# it finds, pandas uses pyarrow and pydicom its pixel-data plugins when there are some.
IMPORTED_WHEN_PRESENT = ("snakemake_executor_plugin_", "pyarrow", "pylibjpeg", "libjpeg", "openjpeg", "rle")


def dependency_closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements bring, as installed here (markers and extras followed)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found, done, queue = set(), set(), [Requirement(r) for r in requirements]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        for extra in {""} | set(requirement.extras):
            if (name, extra) in done:
                continue
            done.add((name, extra))
            found.add(name)
            try:
                lines = metadata.requires(name) or []
            except metadata.PackageNotFoundError:
                continue
            for line in lines:
                dependency = Requirement(line)
                if dependency.marker is None or dependency.marker.evaluate({"extra": extra}):
                    queue.append(dependency)
    return found


def test_dependency_closure_follows_extras_only_when_asked():
    assert "pygments" not in dependency_closure(["snakemake==9.27.1"])
    assert "pygments" in dependency_closure(["snakemake[reports]==9.27.1"])
    assert "jinja2" in dependency_closure(["snakemake==9.27.1"])


def test_main_dependencies_cover_what_the_readme_commands_import(tmp_path):
    from importlib import metadata

    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = dependency_closure(project["dependencies"]) | {canonicalize_name(project["name"])}
    distributions = metadata.packages_distributions()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    uncovered = {}
    for readme_command, argv in README_COMMANDS.items():
        modules_file = tmp_path / "modules.json"
        command = [sys.executable, "-c", RECORD_MODULES, str(modules_file), argv[0], *argv[1:]]
        if argv[0] == "snakemake":
            command += [
                "--snakefile",
                str(ROOT / "Snakefile"),
                "--configfile",
                str(ROOT / "config.yaml"),
                "--directory",
                str(tmp_path / "work"),
                "--config",
                "preset=ci",
            ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
        assert result.returncode == 0, f"{readme_command}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        tops = {module.split(".")[0] for module in json.loads(modules_file.read_text())}
        for top in sorted(tops - set(sys.stdlib_module_names)):
            owners = distributions.get(top)
            if not owners or top.startswith(IMPORTED_WHEN_PRESENT):
                continue  # the project itself, interpreter internals, optional extras
            if not {canonicalize_name(owner) for owner in owners} & main:
                uncovered[top] = readme_command
    assert not uncovered, f"imported by README commands but not brought by pyproject's dependencies: {uncovered}"
