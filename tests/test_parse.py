"""Parsing the workflow imports no torch nor any other heavy library: snakemake parses the Snakefile for
every job."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Nor what only a job needs: DICOM, image processing, the scientific stack beyond numpy and pandas.
HEAVY = ("torch", "torchvision", "torch_fidelity", "scipy", "skimage", "SimpleITK", "pydicom", "sklearn", "matplotlib")

# snakemake's own command line, in a process that writes its sys.modules when it exits.
DRIVER = """\
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from snakemake.cli import main
sys.argv = ["snakemake", *sys.argv[2:]]
main()
"""


def test_a_dry_run_imports_no_torch(tmp_path):
    modules_file = tmp_path / "modules.json"
    command = [
        sys.executable,
        "-c",
        DRIVER,
        str(modules_file),
        "-n",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(ROOT / "config.yaml"),
        "--directory",
        str(tmp_path / "work"),
        "--config",
        "preset=ci",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    modules = set(json.loads(modules_file.read_text()))
    # The rule files were parsed: what they import for the figure and evaluator rules is there.
    assert {"drai.config", "drai.figures.specs", "drai.metrics.settings", "drai.tables"} <= modules
    assert "train_evaluator" in result.stdout and "fig10" in result.stdout
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not loaded, f"parsing the workflow imported {loaded[:5]}"
