"""benchmarks/demo_spread.py: the thread counts it runs the demo's torch rules with."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_spread():
    spec = importlib.util.spec_from_file_location("demo_spread", ROOT / "benchmarks" / "demo_spread.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snakemake_command(demo_spread, monkeypatch, tmp_path, threads: str) -> list[str]:
    """The snakemake command line ``run_workflow`` starts, without starting it."""
    started = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: started.append(command))
    demo_spread.run_workflow(tmp_path / threads, [0, 1], ["DRAI"], [3], threads, 2, None, [])
    (command,) = started
    return command


def test_a_thread_count_sets_every_torch_rule_to_it(demo_spread, monkeypatch, tmp_path):
    command = snakemake_command(demo_spread, monkeypatch, tmp_path, "2")
    given = command[command.index("--set-threads") + 1 :]
    assert given == [f"{rule}=2" for rule in demo_spread.TORCH_RULES]
    assert set(demo_spread.TORCH_RULES) == {"train", "untrained_model", "train_evaluator", "run_metrics"}


def test_demo_threads_leave_each_rule_its_own_thread_count(demo_spread, monkeypatch, tmp_path):
    command = snakemake_command(demo_spread, monkeypatch, tmp_path, "demo")
    assert "--set-threads" not in command
    assert command[command.index("--config") + 1] == "train={seeds: [0, 1], variants: [DRAI]}"
    assert demo_spread.thread_label("demo") == "demo's threads"
    assert demo_spread.thread_label("1") == "1 thread" and demo_spread.thread_label("2") == "2 threads"


def test_a_thread_count_that_is_neither_a_number_nor_demo_is_refused(demo_spread, capsys):
    with pytest.raises(SystemExit):
        demo_spread.main(["--threads", "two", "--summary-only"])
    assert "--threads: a positive number of threads or 'demo', got 'two'" in capsys.readouterr().err


def test_the_summary_gives_each_models_ranges_over_replicates_and_what_its_conditions_add(demo_spread):
    def record(variant, seed, fid, cgacc, chance, cifc=None):
        metrics = {"fid_logits": fid / 10, "fid": fid, "cgacc": cgacc, "cgacc_chance": chance, "cifc": cifc}
        return {"dataset": "lidc", "variant": variant, "seed": seed, "replicate": f"seed {seed}", "metrics": metrics}

    trained = [
        record("DRAI", 0, 500.0, 0.50, 0.30, 1.2),
        record("DRAI", 1, 600.0, 0.40, 0.35, 1.5),
        record("cVAE", 0, 700.0, 0.30, 0.30),
        record("cVAE", 1, 650.0, 0.25, 0.20),
    ]
    untrained = [record("DRAI", 0, 1000.0, 0.2, 0.2), record("DRAI", 1, 1100.0, 0.2, 0.2)]
    text = demo_spread.summary(trained, untrained, {}, 0.1, {})
    assert "| lidc | DRAI | 2 | 50.0–60.0 | 500–600 | 0.400–0.500 | 0.050–0.200 | 1.200–1.500 |" in text
    assert "| lidc | cVAE | 2 | 65.0–70.0 | 650–700 | 0.250–0.300 | 0.000–0.050 | — |" in text
    assert "| lidc | seed 0 | DRAI | DRAI |" in text and "| lidc | seed 1 | DRAI | DRAI |" in text
    # The best FID is judged on the paper's scale, the logits' (here the pooled features would pick cVAE).
    trained[3]["metrics"].update(fid=400.0, fid_logits=70.0)
    assert "| lidc | seed 1 | DRAI | DRAI |" in demo_spread.summary(trained, untrained, {}, 0.1, {})


def record_of(variant, seed, fid, cgacc, chance, threads):
    metrics = {"fid": fid, "cgacc": cgacc, "cgacc_chance": chance}
    replicate = f"seed {seed}, {threads}"
    return {
        "dataset": "lidc",
        "variant": variant,
        "seed": seed,
        "replicate": replicate,
        "threads": threads,
        "metrics": metrics,
    }


def test_models_that_tie_for_best_are_all_named(demo_spread):
    trained = [
        record_of("DRAI", 0, 600.0, 0.366, 0.22, "2 threads"),
        record_of("D-cVAE", 0, 650.0, 0.366, 0.34, "2 threads"),
    ]
    untrained = [record_of("DRAI", 0, 1000.0, 0.2, 0.2, "2 threads")]
    text = demo_spread.summary(trained, untrained, {}, 0.1, {})
    # Equal CGAcc: both are best; what the conditions add beyond the class mix tells them apart.
    assert "| lidc | seed 0, 2 threads | DRAI | D-cVAE, DRAI | DRAI |" in text


def test_each_thread_count_is_judged_over_its_own_seeds(demo_spread):
    # Each thread count's evaluator measures FID in its own units: pooled, gains of about 160 and 460 would put twice
    # their sd above their mean; judged apart, each thread count's FID fell for every seed, by much the same.
    trained, untrained = [], []
    for threads, fid_trained, fid_untrained in (("1 thread", 430.0, 590.0), ("2 threads", 620.0, 1080.0)):
        for seed in range(3):
            trained.append(record_of("DRAI", seed, fid_trained + seed, 0.40 + 0.01 * seed, 0.22, threads))
            untrained.append(record_of("DRAI", seed, fid_untrained, 0.22, 0.22, threads))
    text = demo_spread.summary(trained, untrained, {}, 0.1, {})
    for threads in ("1 thread", "2 threads"):
        section = text.split(f"Learning check over the seeds (DRAI), {threads}:")[1].split("Learning check")[0]
        assert "| lidc | DRAI | 3 |" in section and section.rstrip().endswith("| yes |")
