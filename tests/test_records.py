"""The records a run writes (drai.records): the fields the tables and the learning check read."""

from drai.io import write_json
from drai.records import EVALUATOR_SUMMARY, evaluator_record, metrics_record, read_evaluators, read_records
from drai.tables import build_table, table_specs

REPORT = {"test_accuracy": 0.8, "chance_accuracy": 0.4, "initialization": "random", "steps": 10}


def test_a_metrics_record_carries_its_run_its_evaluator_summary_and_its_settings(tmp_path):
    evaluator = evaluator_record("ham10000", "7-way lesion type", ("nv", "mel"), "synthetic", {"lr": 1e-3}, REPORT)
    assert evaluator["class_names"] == ["nv", "mel"] and evaluator["test_accuracy"] == 0.8
    config = {"preset": "ci", "train": {"steps": 5}, "evaluate": {"samples": 50}, "extra": 1}
    record = metrics_record("ham10000", "DRAI", "2", "trained", 5, "synthetic", {"fid": 1.0}, evaluator, config)
    assert record["seed"] == 2 and record["stage"] == "trained" and record["steps"] == 5
    assert set(record["evaluator"]) == set(EVALUATOR_SUMMARY) and "settings" not in record["evaluator"]
    assert record["config"] == {"preset": "ci", "train": {"steps": 5}, "evaluate": {"samples": 50}}
    write_json(tmp_path / "evaluator.json", evaluator)
    write_json(tmp_path / "metrics.json", record)
    assert read_evaluators([tmp_path / "evaluator.json"]) == {"ham10000": evaluator}
    assert read_records([tmp_path / "metrics.json"]) == [record]


def test_the_tables_read_what_the_records_hold():
    evaluator = evaluator_record("lidc", "size", ("2-4 mm",), "synthetic", {}, REPORT)
    records = [
        metrics_record(
            "lidc",
            variant,
            seed,
            "trained",
            5,
            "synthetic",
            {"fid_logits": 1.0 + seed, "fid": 100.0 + seed, "is": 1.5, "cgacc": 0.5},
            evaluator,
            {"preset": "ci", "train": {}, "evaluate": {}},
        )
        for variant in ("cInfoGAN", "cVAE")
        for seed in (0, 1)
    ]
    table = build_table(table_specs()[1], records)
    fid = table[(table["method"] == "cVAE") & (table["metric"] == "FID")].iloc[0]
    assert fid["n"] == 2 and fid["mean"] == 1.5  # the FID of the logits, beside the paper's
    pooled = table[(table["method"] == "cVAE") & (table["metric"] == "FID_pooled")].iloc[0]
    assert pooled["n"] == 2 and pooled["mean"] == 100.5
