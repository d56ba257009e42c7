import math

import pytest

from drai.learning import learning_check, learning_markdown


def record(seed, fid, cgacc, dataset="lidc", variant="DRAI", **extra):
    return {"dataset": dataset, "variant": variant, "seed": seed, "metrics": {"fid": fid, "cgacc": cgacc}, **extra}


def test_one_seed_judges_against_the_margin_and_says_no_interval_exists():
    frame = learning_check([record(0, fid=100.0, cgacc=0.45)], [record(0, fid=300.0, cgacc=0.30)], cgacc_margin=0.1)
    row = frame.iloc[0]
    assert row["fid_better"] and row["cgacc_better"] and row["pairs"] == 1
    assert math.isnan(row["cgacc_gain_low"])
    markdown = learning_markdown(frame)
    assert "(one seed: no interval)" in markdown and "| yes |" in markdown
    # A gain below the margin is not learning, however far above the untrained value the FID is.
    row = learning_check([record(0, fid=100.0, cgacc=0.35)], [record(0, fid=300.0, cgacc=0.30)], 0.1).iloc[0]
    assert row["fid_better"] and not row["cgacc_better"]
    assert "| FID only |" in learning_markdown(learning_check([record(0, 100.0, 0.35)], [record(0, 300.0, 0.30)], 0.1))


def test_with_seeds_the_gain_must_exceed_the_seed_to_seed_spread():
    untrained = [record(s, fid=300.0, cgacc=0.2) for s in range(3)]
    steady = [record(0, 100.0, 0.60), record(1, 110.0, 0.62), record(2, 105.0, 0.58)]
    row = learning_check(steady, untrained, 0.1).iloc[0]
    assert row["pairs"] == 3 and row["cgacc_better"] and row["fid_better"]
    assert row["cgacc_gain"] == pytest.approx(0.4) and row["cgacc_gain_sd"] == pytest.approx(0.02)
    assert row["cgacc_gain_low"] == pytest.approx(0.36)
    # Every seed clears the margin, but the spread is as large as the mean gain: not counted as learned.
    spread = [record(0, 100.0, 0.31), record(1, 110.0, 0.95), record(2, 105.0, 0.33)]
    row = learning_check(spread, untrained, 0.1).iloc[0]
    assert row["cgacc_gain"] > 0.1 and not row["cgacc_better"] and row["fid_better"]
    # Every seed clears the margin and the mean gain is well above twice its sd, although the mean minus two sd
    # (0.06) is below the margin: learned. The margin is asked of each seed, the spread only to stay clear of zero.
    clear = [record(0, 100.0, 0.34), record(1, 110.0, 0.42), record(2, 105.0, 0.50)]
    row = learning_check(clear, untrained, 0.1).iloc[0]
    assert row["cgacc_gain_low"] == pytest.approx(0.06) and row["cgacc_better"]
    # The stricter rule (the mean minus two sd above the margin too) says no: the table shows both verdicts.
    assert not row["cgacc_better_strict"] and row["fid_better_strict"]
    markdown = learning_markdown(learning_check(clear, untrained, 0.1))
    assert "| learned | learned, stricter rule |" in markdown and markdown.rstrip().endswith("| yes | FID only |")
    assert "stricter rule" not in learning_markdown(learning_check(steady, untrained, 0.1))  # the same verdicts
    # One seed that did not learn is enough to refuse, whatever the mean.
    one_failed = [record(0, 100.0, 0.90), record(1, 110.0, 0.90), record(2, 400.0, 0.25)]
    row = learning_check(one_failed, untrained, 0.1).iloc[0]
    assert not row["cgacc_better"] and not row["fid_better"]
    assert "± " in learning_markdown(learning_check(steady, untrained, 0.1))


def test_runs_are_paired_with_their_own_untrained_network():
    # Seed 1's untrained network is the better one: pairing by seed, not by position, decides.
    trained = [record(1, 200.0, 0.5), record(0, 100.0, 0.5)]
    untrained = [record(0, 150.0, 0.2), record(1, 250.0, 0.2)]
    row = learning_check(trained, untrained, 0.1).iloc[0]
    assert row["fid_gain"] == pytest.approx(50.0) and row["fid_gain_sd"] == pytest.approx(0.0)
    # Replicates other than seeds (seed and thread count) pair by their own key.
    trained = [record(0, 100.0, 0.5, replicate="s0-t1"), record(0, 120.0, 0.6, replicate="s0-t2")]
    untrained = [record(0, 200.0, 0.2, replicate="s0-t1"), record(0, 260.0, 0.2, replicate="s0-t2")]
    row = learning_check(trained, untrained, 0.1).iloc[0]
    assert row["pairs"] == 2 and row["fid_gain"] == pytest.approx(120.0)


def test_datasets_and_models_are_judged_apart():
    trained = [record(0, 100.0, 0.6), record(0, 100.0, 0.6, dataset="ham10000"), record(0, 500.0, 0.2, variant="DAI")]
    untrained = [record(0, 300.0, 0.2), record(0, 300.0, 0.2, dataset="ham10000"), record(0, 300.0, 0.2, variant="DAI")]
    frame = learning_check(trained, untrained, 0.1).set_index(["dataset", "method"])
    assert frame.loc[("lidc", "DRAI"), "cgacc_better"] and frame.loc[("ham10000", "DRAI"), "cgacc_better"]
    assert not frame.loc[("lidc", "DAI"), "cgacc_better"] and not frame.loc[("lidc", "DAI"), "fid_better"]
