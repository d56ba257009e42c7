"""benchmarks/learning_curve.py: the models it evaluates are the run's own at each kept step."""

import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from drai.checkpoints import load_checkpoint
from drai.metrics.evaluator import Evaluator, save_evaluator
from drai.metrics.settings import EvaluationSettings
from drai.train.run import save_untrained
from toys import tiny_settings, toy_patch_set

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def curve():
    # As `python benchmarks/learning_curve.py` runs it: its folder first on the path (it imports kl_reduction).
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("learning_curve", ROOT / "benchmarks" / "learning_curve.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


@pytest.fixture
def keep_threads():
    # one_seed sets torch's thread count for its (worker) process: give the test process its own back.
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_snapshot_steps_start_untrained_and_end_at_the_last_step(curve):
    assert curve.snapshot_steps(300, 100) == [0, 100, 200, 300]
    assert curve.snapshot_steps(300, 70) == [0, 70, 140, 210, 280, 300]
    assert curve.snapshot_steps(4, 10) == [0, 4]


def test_kept_models_are_the_untrained_network_and_the_runs_own_weights(curve, tmp_path, keep_threads):
    patches = tmp_path / "patches.npz"
    toy_patch_set("ham10000", n=24).save(patches)
    torch.manual_seed(0)
    save_evaluator(Evaluator(7, 64), tmp_path / "evaluator.pt")
    settings = tiny_settings(steps=4, checkpoint_every=2, augment=False)
    run_dir = tmp_path / "run"
    job = {
        "run_dir": str(run_dir),
        "patches": str(patches),
        "evaluator": str(tmp_path / "evaluator.pt"),
        "evaluator_sha256": "0123456789abcdef",
        "threads": 1,
        "dataset": "ham10000",
        "variant": "DAI",
        "settings": asdict(settings),
        "steps": [0, 2, 4],
        "evaluation": asdict(
            EvaluationSettings(samples=16, cifc_pairs=4, retrieval_top_n=3, batch_size=16, seed=0, options={})
        ),
    }
    rows = curve.one_seed(job)
    assert [row["step"] for row in rows] == [0, 2, 4]
    for row in rows:
        assert set(row) == {"seed", "step", *curve.REPORTED} and 0 <= row["cgacc_chance"] <= 1
    kept = {step: load_checkpoint(run_dir / "snapshots" / f"step{step}.pt")["model"] for step in (0, 2, 4)}
    assert same_weights(kept[4], load_checkpoint(run_dir / "model.pt")["model"])
    save_untrained("DAI", 3, 3, settings, tmp_path / "untrained.pt")
    assert same_weights(kept[0], load_checkpoint(tmp_path / "untrained.pt")["model"])
    assert not same_weights(kept[2], kept[4]) and not same_weights(kept[0], kept[2])
    # Run again: nothing is trained or evaluated anew, the same rows come back.
    model_time = (run_dir / "model.pt").stat().st_mtime_ns
    assert curve.one_seed(job) == rows
    assert (run_dir / "model.pt").stat().st_mtime_ns == model_time
    assert json.loads((run_dir / "snapshots" / "evaluated-0123456789ab" / "step2.json").read_text()) == rows[1]
    # Another evaluator: the trained steps are kept, the metrics are its own.
    torch.manual_seed(1)
    save_evaluator(Evaluator(7, 64), tmp_path / "other.pt")
    other = curve.one_seed({**job, "evaluator": str(tmp_path / "other.pt"), "evaluator_sha256": "fedcba9876543210"})
    assert (run_dir / "model.pt").stat().st_mtime_ns == model_time
    assert [row["step"] for row in other] == [0, 2, 4] and other != rows


def test_summary_gives_each_steps_range_over_seeds(curve):
    rows = [
        {"seed": seed, "step": step, "fid": 100.0, "cgacc": cgacc, "cgacc_chance": 0.2, "cifc": None}
        for seed, step, cgacc in ((0, 0, 0.2), (1, 0, 0.2), (0, 10, 0.5), (1, 10, 0.3), (0, 20, 0.25), (1, 20, 0.4))
    ]
    text = curve.summary(rows, "lidc", "DRAI")
    assert "| 10 | 100 / 0.500 (0.200) | 100 / 0.300 (0.200) | 0.300–0.500 | 0.100–0.300 |" in text
    assert "per seed: 0.250, 0.100." in text


def test_a_folder_without_a_finished_demo_is_refused(curve, tmp_path, capsys):
    with pytest.raises(SystemExit):
        curve.main(["--workdir", str(tmp_path)])
    assert f"{tmp_path}/results/demo/data/lidc/patches.npz is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        curve.main(["--every", "0"])
    assert "--every: a positive number, got 0" in capsys.readouterr().err


def curve_file(path: Path, threads: int, gains: dict) -> dict:
    """A curve.json of DRAI on LIDC: per seed, FID 500 -> 300 and CGAcc 0.2 -> 0.2 + gain from step 0 to 10."""
    rows = []
    for seed, gain in gains.items():
        rows.append({"seed": seed, "step": 0, "fid": 500.0, "cgacc": 0.2, "cgacc_chance": 0.2, "cifc": 0.0})
        rows.append({"seed": seed, "step": 10, "fid": 300.0, "cgacc": 0.2 + gain, "cgacc_chance": 0.2, "cifc": 1.0})
    curve = {"dataset": "lidc", "variant": "DRAI", "threads": threads, "evaluator_sha256": f"{threads}" * 12}
    curve["rows"] = rows
    path.write_text(json.dumps(curve))
    return curve


def test_the_learning_check_takes_every_replicate_of_the_combined_curves(curve, tmp_path, capsys):
    one = curve_file(tmp_path / "one.json", 1, {0: 0.30, 1: 0.32})
    two = curve_file(tmp_path / "two.json", 2, {0: 0.31, 1: 0.29})
    text = curve.check([one, two], 10, 0.1)
    assert "| lidc | DRAI | 4 |" in text and text.rstrip().endswith("| yes |")
    # One replicate's gain under the margin: CGAcc no longer counts, FID still does.
    low = curve_file(tmp_path / "low.json", 2, {0: 0.31, 1: 0.05})
    assert curve.check([one, low], 10, 0.1).rstrip().endswith("| FID only |")
    assert curve.check([one], 20, 0.1) == "No model was kept at step 20.\n"
    curve.main(["--combine", str(tmp_path / "one.json"), str(tmp_path / "two.json")])
    printed = capsys.readouterr().out
    assert printed.startswith("Learning check at step 10:") and "| lidc | DRAI | 4 |" in printed
