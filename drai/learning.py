"""Did the models learn? Trained networks against the same networks before training.

Each trained run is paired with the untrained network of its seed (same
initialisation, same evaluation), and the gain is taken per pair: CGAcc
trained minus untrained, and FID untrained minus trained. A model has learned
a metric when

* with one pair: its gain exceeds the margin (``cgacc_margin`` for CGAcc,
  zero for FID); one seed gives no interval, and the table says so;
* with two or more pairs: every pair's gain exceeds the margin *and* the
  mean gain exceeds twice its standard deviation over the pairs (the mean
  minus two sd is above zero), so a gain that the seed-to-seed variation
  could undo does not count.

The pairs are usually seeds; a spread measurement may pair other replicates
(seed and thread count), named by the records' ``replicate`` key.

An earlier, stricter rule asked the mean minus two sd to clear the margin as
well (a forecast that a further seed would clear it). The table gives its
verdict beside the present one wherever the two differ.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# With two or more pairs the mean gain minus this many standard deviations must stay above zero.
SPREAD_FACTOR = 2.0
# (metric, sign of the gain: +1 when higher is better)
METRICS = (("fid", -1.0), ("cgacc", 1.0))


def _replicate(record: dict):
    return record.get("replicate", record.get("seed"))


def _values(records: list[dict], metric: str) -> dict:
    """{(dataset, variant): {replicate: value}} of one metric."""
    values: dict = {}
    for record in records:
        value = record["metrics"].get(metric)
        if value is not None:
            values.setdefault((record["dataset"], record["variant"]), {})[_replicate(record)] = float(value)
    return values


def _verdict(gains: np.ndarray, margin: float) -> tuple[bool | None, bool | None, float]:
    """(learned, learned under the stricter rule, lower end of the gain's spread); the lower end is NaN with
    one pair, where both rules are the same."""
    if len(gains) == 0:
        return None, None, math.nan
    if len(gains) == 1:
        return bool(gains[0] > margin), bool(gains[0] > margin), math.nan
    low = float(gains.mean() - SPREAD_FACTOR * gains.std(ddof=1))
    every = bool(gains.min() > margin)
    return every and low > 0.0, every and low > margin, low


def learning_check(trained: list[dict], untrained: list[dict], cgacc_margin: float) -> pd.DataFrame:
    """One row per (dataset, variant): trained and untrained values, per-pair gains and the verdict per metric."""
    rows = []
    for key in sorted(_values(trained, "fid").keys() | _values(trained, "cgacc").keys()):
        row = {"dataset": key[0], "method": key[1]}
        for metric, sign in METRICS:
            ours, before = _values(trained, metric).get(key, {}), _values(untrained, metric).get(key, {})
            pairs = sorted(set(ours) & set(before), key=str)
            a = np.array([ours[p] for p in pairs])
            b = np.array([before[p] for p in pairs])
            gains = sign * (a - b)
            margin = cgacc_margin if metric == "cgacc" else 0.0
            learned, strict, low = _verdict(gains, margin)
            row.update(
                {
                    f"{metric}_trained": float(a.mean()) if len(a) else math.nan,
                    f"{metric}_trained_min": float(a.min()) if len(a) else math.nan,
                    f"{metric}_trained_max": float(a.max()) if len(a) else math.nan,
                    f"{metric}_untrained": float(b.mean()) if len(b) else math.nan,
                    f"{metric}_gain": float(gains.mean()) if len(gains) else math.nan,
                    f"{metric}_gain_sd": float(gains.std(ddof=1)) if len(gains) > 1 else math.nan,
                    f"{metric}_gain_low": low,
                    f"{metric}_margin": margin,
                    f"{metric}_better": learned,
                    f"{metric}_better_strict": strict,
                }
            )
        row["pairs"] = len(pairs)
        rows.append(row)
    return pd.DataFrame(rows)


def _range(row, metric: str) -> str:
    low, high = row[f"{metric}_trained_min"], row[f"{metric}_trained_max"]
    return f"{row[f'{metric}_trained']:.3f}" if low == high else f"{low:.3f}–{high:.3f}"


def _gain(row, metric: str) -> str:
    if row["pairs"] < 2:
        return f"{row[f'{metric}_gain']:.3f} (one seed: no interval)"
    return f"{row[f'{metric}_gain']:.3f} ± {row[f'{metric}_gain_sd']:.3f} (low {row[f'{metric}_gain_low']:.3f})"


def _verdict_text(row, suffix: str = "") -> str:
    fid, cgacc = row[f"fid_better{suffix}"], row[f"cgacc_better{suffix}"]
    return "yes" if fid and cgacc else "FID only" if fid else "CGAcc only" if cgacc else "no"


def learning_markdown(frame: pd.DataFrame) -> str:
    margin = frame["cgacc_margin"].iloc[0] if len(frame) else math.nan
    # The stricter rule's column, where it gives another verdict for some row.
    differs = any(_verdict_text(r) != _verdict_text(r, "_strict") for _, r in frame.iterrows())
    lines = [
        "Trained models against the same networks before training, paired by seed. Learned: with one seed, the "
        f"FID gain (untrained minus trained) above 0 and the CGAcc gain above {margin:.2f}; with two or more, "
        f"every seed's gain above those margins and the mean gain minus {SPREAD_FACTOR:g} standard deviations "
        "above 0."
        + (
            f" The stricter rule, which asks the mean minus {SPREAD_FACTOR:g} sd to clear the margins too, gives "
            "another verdict here; both are shown."
            if differs
            else ""
        ),
        "",
        "| dataset | model | seeds | FID trained | FID untrained | FID gain (mean ± sd) | CGAcc trained | "
        "CGAcc untrained | CGAcc gain (mean ± sd) | learned |" + (" learned, stricter rule |" if differs else ""),
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if differs else ""),
    ]
    for _, r in frame.iterrows():
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['pairs']} | {_range(r, 'fid')} | "
            f"{r['fid_untrained']:.3f} | {_gain(r, 'fid')} | {_range(r, 'cgacc')} | "
            f"{r['cgacc_untrained']:.3f} | {_gain(r, 'cgacc')} | {_verdict_text(r)} |"
            + (f" {_verdict_text(r, '_strict')} |" if differs else "")
        )
    return "\n".join(lines) + "\n"
