"""End to end: the workflow on the ci preset, in a scratch folder."""

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

pytestmark = pytest.mark.slow


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(ROOT / "config.yaml"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ci")
    result = snakemake(workdir, "--config", "preset=ci")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def test_ci_preset_produces_patches(ci_run):
    lidc = ci_run / "results" / "ci" / "data" / "lidc"
    with np.load(lidc / "patches.npz") as data:
        images, vectors, splits = data["images"], data["vectors"], data["splits"]
        assert str(data["source"]) == "synthetic"
        assert len(data["sizes"]) == len(images) == len(data["nodule_ids"])
    assert images.ndim == 4 and images.shape[1:] == (1, 72, 72)  # the 64x64 window with a margin of context
    assert images.min() >= -1 and images.max() <= 1
    assert vectors.shape == (len(images), 17)
    assert (vectors[:, :12].reshape(-1, 6, 2).sum(-1) == 1).all() and (vectors[:, 12:].sum(1) == 1).all()
    assert set(splits) == {"train", "test"}
    # Nodules sit at the patch centre: the centre is denser than the rim of the patch.
    centre = images[:, 0, 32:40, 32:40].mean()
    rim = np.concatenate([images[:, 0, :10].ravel(), images[:, 0, -10:].ravel()]).mean()
    assert centre > rim
    nodules = pd.read_csv(lidc / "nodules.csv")
    assert {"nodule_id", "split", "curated", "query", "size_mm", "z_min_mm", "z_max_mm"} <= set(nodules.columns)
    assert (lidc / "qc_patches.png").stat().st_size > 1000
    assert (ci_run / "results" / "ci" / "logs" / "lidc" / "nodules.log").exists()


def test_ci_preset_produces_ham10000_patches(ci_run):
    ham = ci_run / "results" / "ci" / "data" / "ham10000"
    with np.load(ham / "patches.npz") as data:
        images, labels, vectors, splits = data["images"], data["labels"], data["vectors"], data["splits"]
        assert list(data["class_names"])[:3] == ["nv", "mel", "bkl"] and len(data["class_names"]) == 7
        assert str(data["split_source"]) == "ISIC 2018 Task 3 test set"
        augmented, modelled = data["augmented"], data["modelled"]
    assert images.shape[1:] == (3, 72, 72) and images.min() >= -1 and images.max() <= 1
    assert (vectors[modelled].argmax(1) == labels[modelled]).all() and (vectors[modelled].sum(1) == 1).all()
    assert (vectors[~modelled] == 0).all()
    assert set(splits) == {"train", "test"}
    assert not augmented[splits == "test"].any()
    table = pd.read_csv(ham / "images.csv")
    assert len(table) == len(images)
    counts = pd.read_csv(ham / "class_counts.csv").set_index("class")
    assert counts.loc["mel", "train_after"] == 4 * counts.loc["mel", "train_before"]
    assert counts.loc["nv", "train_after"] == counts.loc["nv", "train_before"]
    assert (ham / "qc_patches.png").stat().st_size > 1000


def test_ci_preset_trains_every_variant_on_both_datasets(ci_run):
    from drai.models.variants import VARIANTS, loss_terms

    for dataset in ("lidc", "ham10000"):
        for name, variant in VARIANTS.items():
            run = ci_run / "results" / "ci" / "runs" / dataset / name / "seed0"
            assert (run / "model.pt").exists(), run
            history = pd.read_csv(run / "losses.csv")
            assert set(history.columns) - {"step"} == set(loss_terms(variant))
            assert (run / "losses.png").exists() and (run / "model_card.md").exists()


def test_ci_preset_evaluates_every_run_and_builds_the_tables(ci_run):
    import json

    from drai.models.variants import VARIANTS

    results = ci_run / "results" / "ci"
    for dataset in ("lidc", "ham10000"):
        evaluator = json.loads((results / "evaluators" / dataset / "evaluator.json").read_text())
        assert evaluator["initialization"] == "random" and 0 <= evaluator["test_accuracy"] <= 1
        for name, variant in VARIANTS.items():
            record = json.loads((results / "runs" / dataset / name / "seed0" / "metrics.json").read_text())
            assert record["data_source"] == "synthetic" and record["config"]["preset"] == "ci"
            assert record["metrics"]["fid"] >= 0 and 0 <= record["metrics"]["cgacc"] <= 1
            # Beyond the paper, beside FID: Naeem et al.'s four and the intra-class FID (None where a set is tiny).
            assert {"precision", "recall", "density", "coverage", "fid_logits_intra"} <= set(record["metrics"])
            assert (record["metrics"]["cifc"] is None) == (not variant.two_codes)
        assert (results / "untrained" / dataset / "DRAI" / "seed0" / "metrics.json").exists()
    for number in range(1, 7):
        for ext in ("md", "tex", "csv", "html"):
            assert (results / "tables" / f"table{number}.{ext}").stat().st_size > 100
    table1 = (results / "tables" / "table1.md").read_text()
    assert table1.startswith("Table I:") and "embedded synthetic" in table1 and "0.089 ± 0.02" in table1
    assert pd.read_csv(results / "tables" / "table2.csv")["n"].eq(1).all()
    for number in (5, 6):  # the budget control's row, beyond the paper's
        assert "| DAI+twice (not in the paper) |" in (results / "tables" / f"table{number}.md").read_text()
    train_config = json.loads((results / "runs" / "lidc" / "DAI" / "seed0" / "metrics.json").read_text())["config"][
        "train"
    ]
    assert train_config["augment"] is True and train_config["kl_reduction"] == "mean"
    assert "| lidc | DRAI |" in (results / "tables" / "learning.md").read_text()
    figures = sorted(p.name for p in (results / "figures").glob("fig*.png"))
    assert {name[:5] for name in figures} == {f"fig{n}" for n in range(10, 20)}


def dry_run_jobs(workdir: Path, *config: str) -> dict[str, int]:
    """rule -> jobs that a dry run with ``config`` would run (empty when there is nothing to do)."""
    result = snakemake(workdir, "-n", "--config", "preset=ci", *config)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    if "Nothing to be done" in output:
        return {}
    jobs = {}
    for line in output.split("Job stats:")[1].splitlines()[3:]:
        if not line.split() or line.split()[0] == "total":
            break
        rule, count = line.split()
        jobs[rule] = int(count)
    return jobs


def test_only_a_setting_that_changes_an_output_reruns_its_jobs(ci_run):
    from drai.figures.specs import FIGURE_SPECS
    from drai.models.variants import VARIANTS
    from drai.tables import table_specs

    # Transport: how data is fetched, where jobs compute. None of it reruns anything.
    mirror = "https://mirror.example.org"
    assert (
        dry_run_jobs(
            ci_run,
            f"lidc={{download: true, api_url: '{mirror}/nbia', idc_endpoint_url: '{mirror}', download_retries: 9, "
            "download_timeout_s: 7}",
            f"ham10000={{download: true, server: '{mirror}', doi: 'doi:10.1234/OTHER', download_retries: 9, "
            "download_timeout_s: 7}",
            "train={device: cpu}",
            f"evaluate={{device: cpu, imagenet_url: '{mirror}/models/inception_v3_google-0cc3c7bd.pth'}}",
        )
        == {}
    )

    runs = len(VARIANTS)  # per dataset, one seed
    every_figure = {spec.name: 1 for spec in FIGURE_SPECS.values()}
    # Beyond the paper, from every run's metrics and downstream records: two tables per dataset and a figure.
    downstream_of_runs = {"table": 6, "learning_check": 1, "downstream_table": 2, "fidelity_table": 2}
    downstream_of_runs.update(fig_cas_fid=1, all=1)
    # Beyond the paper: each run's audit, its two tables and two figures.
    audits = {"ground_truth_table": 1, "memorization_table": 1, "fig_ground_truth": 1, "fig_memorization": 1}
    # The learning rate: every training run (and the untrained reference, whose file records it), then their metrics.
    assert dry_run_jobs(ci_run, "train={lr: 0.001}") == {
        "train": 2 * runs,
        "untrained_model": 2,
        "run_metrics": 2 * runs + 2,
        "audit_run": 2 * runs,
        "downstream_run": 2 * runs,
        **audits,
        **every_figure,
        **downstream_of_runs,
    }
    # The HU window: LIDC's patches and everything made of them; nothing of HAM10000's.
    cases = len(list((ci_run / "results" / "ci" / "data" / "lidc" / "cases").glob("*.npz")))
    lidc_figures = {spec.name: 1 for spec in FIGURE_SPECS.values() if "lidc" in spec.datasets}
    lidc_tables = sum("lidc" in spec.datasets for spec in table_specs().values())
    assert dry_run_jobs(ci_run, "lidc={hu_window: [-1100, 300]}") == {
        "lidc_case_patches": cases,
        "lidc_patches": 1,
        "train": runs,
        "untrained_model": 1,
        "train_evaluator": 1,
        "run_metrics": runs + 1,
        "pixel_matched": 1,
        **lidc_figures,
        "table": lidc_tables,
        "learning_check": 1,
        "lidc_factors": 1,
        "reference_features": 1,
        "audit_run": runs,
        **audits,
        "downstream_real": 1,
        "downstream_run": runs,
        "downstream_table": 1,
        "fidelity_table": 1,
        "fig_cas_fid": 1,
        "all": 1,
    }
    # The number of generated images: the metrics, the audits and the tables; no model and no figure of the paper.
    assert dry_run_jobs(ci_run, "evaluate={samples: 20}") == {
        "run_metrics": 2 * runs + 2,
        "audit_run": 2 * runs,
        **audits,
        **downstream_of_runs,
    }
    # The downstream classifier's budget: its jobs, its tables and figure; no model, no metrics.
    assert dry_run_jobs(ci_run, "downstream={steps: 4}") == {
        "downstream_real": 2,
        "downstream_run": 2 * runs,
        "downstream_table": 2,
        "fig_cas_fid": 1,
        "all": 1,
    }


def test_ci_preset_audits_every_run_beyond_the_paper(ci_run):
    import json

    from drai.data.registry import get_dataset
    from drai.models.variants import VARIANTS

    results = ci_run / "results" / "ci"
    for dataset in ("lidc", "ham10000"):
        factors = pd.read_csv(results / "data" / dataset / "factors.csv")
        with np.load(results / "data" / dataset / "patches.npz") as data:
            assert list(factors["row"]) == list(range(len(data["splits"])))
            assert list(factors["split"]) == list(data["splits"].astype(str))
        assert not factors[[f.name for f in get_dataset(dataset).factors]].isna().any().any()
        for name, variant in VARIANTS.items():
            run = results / "runs" / dataset / name / "seed0"
            truth = json.loads((run / "ground_truth.json").read_text())
            assert truth["available"] and truth["two_codes"] == variant.two_codes
            if variant.two_codes:
                assert -1 <= truth["separation"] <= 1 and len(truth["scores"]) == len(get_dataset(dataset).factors)
            memorization = json.loads((run / "memorization.json").read_text())
            assert memorization["generated"] == 16 and isinstance(memorization["flagged"], bool)
            assert 0 <= memorization["features"]["share_closer"] <= 1
    for kind in ("ground_truth", "memorization"):
        text = (results / "tables" / f"{kind}.md").read_text()
        assert "Not in the paper." in text and "| DRAI |" in text
    assert "Spearman's rho of -CIFC against the separation" in (results / "tables" / "ground_truth.md").read_text()
    for name in ("ground_truth_probes.png", "memorization_pairs.png"):
        assert (results / "figures" / name).stat().st_size > 1000


def test_ci_preset_measures_the_downstream_use_of_every_run_beyond_the_paper(ci_run):
    import json

    from drai.metrics.downstream import MIXES, TRAINING_SETS
    from drai.models.variants import VARIANTS

    results = ci_run / "results" / "ci"
    for dataset in ("lidc", "ham10000"):
        real = json.loads((results / "downstream" / dataset / "real_seed0.json").read_text())
        assert 0 <= real["real_only"]["accuracy"] <= 1 and real["settings"]["classifier"] == "small_cnn"
        assert (real["all_types"] is None) == (dataset == "lidc")  # HAM10000's unmodelled types: apart
        for name in VARIANTS:
            record = json.loads((results / "runs" / dataset / name / "seed0" / "downstream.json").read_text())
            for mix in MIXES:
                for training_set in TRAINING_SETS:
                    assert 0 <= record[mix][training_set]["balanced_accuracy"] <= 1
        downstream = (results / "tables" / f"downstream_{dataset}.md").read_text()
        assert "Not in the paper." in downstream and "| DRAI: generated only (CAS) |" in downstream
        assert "| real only (the reference) |" in downstream and "Spearman's rho of CAS" in downstream
        fidelity = (results / "tables" / f"fidelity_{dataset}.md").read_text()
        assert "Not in the paper." in fidelity and "| DRAI |" in fidelity and "coverage" in fidelity
        for kind in ("downstream", "fidelity"):
            assert (results / "tables" / f"{kind}_{dataset}.csv").stat().st_size > 100
    assert "precision / recall / density / coverage" in (results / "tables" / "ground_truth.md").read_text()
    assert (results / "figures" / "cas_vs_fid.png").stat().st_size > 1000


def test_one_table_or_figure_rebuilds_alone(ci_run):
    for target, path in (("table3", "results/ci/tables/table3.md"), ("fig12", "results/ci/figures/fig12_lidc.png")):
        (ci_run / path).unlink()
        result = snakemake(ci_run, target, "--config", "preset=ci")
        assert result.returncode == 0, result.stderr[-3000:]
        assert (ci_run / path).exists()
        assert "localrule train:" not in result.stdout + result.stderr  # nothing retrained


def test_the_report_gathers_tables_and_figures(ci_run):
    result = snakemake(ci_run, "--report", "report.html", "--config", "preset=ci")
    assert result.returncode == 0, result.stderr[-3000:]
    report = (ci_run / "report.html").read_text(errors="replace")
    assert "table1.html" in report and "fig12_lidc.png" in report and "losses.png" in report
    assert "ground_truth.html" in report and "memorization_pairs.png" in report
    assert "downstream_lidc.html" in report and "fidelity_ham10000.html" in report and "cas_vs_fid.png" in report


def test_a_failing_case_does_not_stop_the_others(ci_run):
    lidc = ci_run / "results" / "ci" / "data" / "lidc"
    cases = sorted(p.stem for p in (lidc / "cases").glob("*.npz"))
    broken, healthy = cases[0], cases[1]
    manifest = pd.read_json(lidc / "series" / f"{broken}.json", typ="series")
    victim = ci_run / manifest["files"][2]  # manifests hold paths relative to the working folder
    victim.write_bytes(victim.read_bytes()[:300])
    for name in (broken, healthy):
        (lidc / "cases" / f"{name}.npz").unlink()
    (lidc / "patches.npz").unlink()
    result = snakemake(ci_run, "--config", "preset=ci")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (lidc / "cases" / f"{healthy}.npz").exists()
    assert not (lidc / "cases" / f"{broken}.npz").exists()
    assert not (lidc / "patches.npz").exists()
    assert victim.name in output and broken in output


def planned_outputs(workdir: Path, *config: str) -> set[str]:
    """Every output file a dry run with ``config`` plans (before its checkpoints run)."""
    result = snakemake(workdir, "-n", "--config", *config)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    lines = re.findall(r"^\s+output: (.+)$", result.stdout + result.stderr, re.MULTILINE)
    return {path for line in lines for path in line.split(", ")}


def file_digests(*folders: Path) -> dict[str, str]:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_a_preset_never_touches_another_presets_files(ci_run):
    ci_files = file_digests(ci_run / "results" / "ci", ci_run / "resources" / "synthetic" / "ci")
    written_by_ci = {str(Path(path).relative_to(ci_run)) for path in ci_files}
    # The demo and paper DAGs, planned beside the finished ci run: nothing of ci's, everything in their own trees.
    for preset in ("demo", "paper"):
        planned = planned_outputs(ci_run, f"preset={preset}")
        assert planned and not planned & written_by_ci, sorted(planned & written_by_ci)[:5]
        assert all(path.startswith((f"results/{preset}/", "resources/weights/")) for path in planned), sorted(
            p for p in planned if not p.startswith(f"results/{preset}/")
        )[:5]
    # Another preset run for real (a tiny training of demo's), then ci's files are as they were.
    run = "results/demo/runs/ham10000/cVAE/seed0/model.pt"
    result = snakemake(
        ci_run,
        run,
        "--config",
        "preset=demo",
        "train={variants: [cVAE], datasets: [ham10000], steps: 2, batch_size: 4, width: 4, checkpoint_every: 1, "
        "average_window: 0}",
        "ham10000={synthetic_train_images: 40, synthetic_test_images: 20, synthetic_width: 120, synthetic_height: 90}",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (ci_run / run).exists() and (ci_run / "resources" / "synthetic" / "demo" / "ham10000").is_dir()
    assert file_digests(ci_run / "results" / "ci", ci_run / "resources" / "synthetic" / "ci") == ci_files


def test_bad_config_stops_before_any_job(tmp_path):
    result = snakemake(tmp_path, "--config", "preset=huge")
    assert result.returncode != 0
    assert "config key preset" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
