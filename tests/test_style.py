"""Lint and format: the tree passes ruff (lint and format) and snakefmt with the project's configuration
(pyproject.toml: [tool.ruff], [tool.snakefmt])."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def tool(name: str) -> str:
    """The tool installed beside this interpreter (the test extra), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


#: The lint rules the tree keeps, whatever pyproject.toml selects: pycodestyle, pyflakes, sorted imports (I) and
#: bugbear (B: zip without strict=, closures over loop variables, ...).
LINT_RULES = "E,F,W,I,B"


def test_ruff_finds_no_lint_error():
    result = run(tool("ruff"), "check", "--no-fix", "--extend-select", LINT_RULES, ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_python_code_is_formatted():
    result = run(tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, "ruff format would change:\n" + result.stdout + result.stderr


def test_the_snakemake_files_are_formatted():
    result = run(tool("snakefmt"), "--check", "Snakefile", "rules", "drai/data", "tests/datasets")
    assert result.returncode == 0, "snakefmt would change:\n" + result.stdout + result.stderr


def test_the_checks_fail_on_a_lint_or_format_error(tmp_path):
    # The same configuration on a copy of it with bad files (lint, bugbear, import order, format): each check
    # must say no.
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import os\nx = {  'a':1 }\n")
    (tmp_path / "loop.py").write_text("for a, b in zip([1], [2]):\n    print(a, b)\n")
    (tmp_path / "unsorted.py").write_text("import sys\nimport os\n\nprint(os, sys)\n")
    (tmp_path / "Snakefile").write_text('rule a:\n    output: "a"\n    shell: "touch {output}"\n')
    for command in (
        [tool("ruff"), "check", "--no-fix", "bad.py"],
        [tool("ruff"), "check", "--no-fix", "loop.py"],
        [tool("ruff"), "check", "--no-fix", "unsorted.py"],
        [tool("ruff"), "format", "--check", "bad.py"],
        [tool("snakefmt"), "--check", "Snakefile"],
    ):
        assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode != 0, command
