"""Tables I-VI rebuilt from per-run ``metrics.json`` files, beside the paper's numbers.

The paper's values live in ``drai/paper_results.csv`` (copied from the
publication, each number as printed: "0.06" stays "0.06", "35.27" stays
"35.27"). A table's rows and columns follow that file's order, which is the
paper's. A reproduced cell is the mean +- the sample standard deviation over
seeds, as in the paper, with a 95% confidence interval of the mean (Student's
t); a single seed gives the mean alone.

FID is shown twice: the Frechet distance of the evaluator's class logits
beside the published column (our reading of the paper's FID,
:mod:`drai.metrics.fidelity`), and after it the FID of the pooled features,
which is on another scale than the paper's (:data:`COMPANIONS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from drai.data.registry import datasets, get_dataset

PAPER_RESULTS = Path(__file__).resolve().parent / "paper_results.csv"

#: The paper calls the adversarial cVAE baselines cAAVE in Tables I and II.
PAPER_METHOD_NAMES = {"cAAVE": "cVAE", "D-cAAVE": "D-cVAE"}
METRIC_KEYS = {
    "FID": "fid_logits",
    "FID_pooled": "fid",
    "IS": "is",
    "CGAcc": "cgacc",
    "CIFC": "cifc",
    "disagreement_divergence": "disagreement_divergence",
    "label_overlap_pct": "label_overlap_pct",
}
METRIC_LABELS = {
    "FID": "FID (↓)",
    "FID_pooled": "FID, pooled features (not the paper's scale) (↓)",
    "IS": "IS (↑)",
    "CGAcc": "CGAcc (↑)",
    "CIFC": "CIFC (↓)",
    "disagreement_divergence": "disagreement divergence (↓)",
    "label_overlap_pct": "label overlap % (↑)",
}
#: Columns of ours alone (no published value) that follow a published metric's columns.
COMPANIONS = {"FID": ("FID_pooled",)}
NUMERALS = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
#: The paper's table titles; ``{datasets}`` is the names of the datasets the table shows (the paper's data).
TITLES = {
    1: "Image generation metrics on {datasets}: single and double variable baselines",
    2: "Image generation metrics on {datasets}: single and double variable baselines",
    3: "Content-style disentanglement: CIFC error",
    4: "Content-based retrieval on {datasets}: top-3 nearest neighbours",
    5: "Ablation study on {datasets}",
    6: "Ablation study on {datasets}",
}
#: Rows of Table IV that are not trained models.

#: Rows beyond the paper (no published values), appended to the paper's rows.
#: DAI+twice is DAI trained twice per batch: the budget control of DRAI and the
#: selfReg ablations, which the paper trains twice per batch.
EXTRA_METHODS = {5: ("DAI+twice",), 6: ("DAI+twice",)}
NOT_IN_PAPER = " (not in the paper)"
#: What the printed paper gets wrong or leaves inconsistent in a table's published column, by table number
#: (``paper_notes.yaml``, beside the published numbers).
PAPER_NOTES: dict[int, str] = yaml.safe_load(PAPER_RESULTS.with_name("paper_notes.yaml").read_text())


@dataclass(frozen=True)
class TableSpec:
    number: int
    methods: tuple[str, ...]  # our variant names, paper order
    columns: tuple[tuple[str, str], ...]  # (dataset key, paper metric name), paper order

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for d, _ in self.columns))

    @property
    def shown(self) -> tuple[tuple[str, str], ...]:
        """The columns as shown: each published metric followed by its :data:`COMPANIONS`."""
        return tuple(
            (dataset, shown) for dataset, metric in self.columns for shown in (metric, *COMPANIONS.get(metric, ()))
        )


def table_title(spec: TableSpec) -> str:
    """The paper's title of table ``spec``, naming the datasets it shows."""
    names = " and ".join(get_dataset(key).name for key in spec.datasets)
    return TITLES[spec.number].format(datasets=names)


def paper_results(path: str | Path = PAPER_RESULTS) -> pd.DataFrame:
    """The published values: ``mean`` and ``std`` as numbers, ``mean_text`` and ``std_text`` as printed
    (``std_text`` empty where the paper gives none)."""
    frame = pd.read_csv(path, dtype={"mean": str, "std": str}, keep_default_na=False)
    frame["mean_text"], frame["std_text"] = frame["mean"].str.strip(), frame["std"].str.strip()
    frame["mean"] = pd.to_numeric(frame["mean_text"])
    frame["std"] = pd.to_numeric(frame["std_text"].replace("", math.nan))
    frame["method"] = frame["method"].replace(PAPER_METHOD_NAMES)
    frame["dataset"] = frame["dataset"].map({d.name: key for key, d in datasets().items()})
    return frame


def table_specs(paper: pd.DataFrame | None = None) -> dict[int, TableSpec]:
    paper = paper_results() if paper is None else paper
    specs = {}
    for number, numeral in NUMERALS.items():
        rows = paper[paper["table"] == numeral]
        methods = tuple(dict.fromkeys(rows["method"])) + EXTRA_METHODS.get(number, ())
        columns = tuple(dict.fromkeys(zip(rows["dataset"], rows["metric"], strict=True)))
        specs[number] = TableSpec(number, methods, columns)
    return specs


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Long table (dataset, method, seed, metric, value) of metrics.json contents."""
    rows = []
    for record in records:
        for key, value in record["metrics"].items():
            if value is not None:
                rows.append(
                    {
                        "dataset": record["dataset"],
                        "method": record["variant"],
                        "seed": record.get("seed"),
                        "metric": key,
                        "value": float(value),
                    }
                )
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", "metric", "value"])


def summarize(values: np.ndarray) -> dict[str, float]:
    """n, mean, sample std (ddof 1) and the 95% t-interval of the mean; NaN where undefined."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": math.nan, "std": math.nan, "ci95_low": math.nan, "ci95_high": math.nan}
    mean = float(np.mean(values))
    if n == 1:
        return {"n": 1, "mean": mean, "std": math.nan, "ci95_low": math.nan, "ci95_high": math.nan}
    std = float(np.std(values, ddof=1))
    from scipy import stats  # here, not at the top: the workflow imports this module when it parses

    half = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half}


def build_table(spec: TableSpec, records: list[dict], paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (method, dataset, metric) in the paper's order: ours and the paper's."""
    paper = paper_results() if paper is None else paper
    ours = records_frame(records)
    numeral = NUMERALS[spec.number]
    rows = []
    for method in spec.methods:
        for dataset, metric in spec.shown:
            values = ours[
                (ours["method"] == method) & (ours["dataset"] == dataset) & (ours["metric"] == METRIC_KEYS[metric])
            ]["value"].to_numpy()
            published = paper[
                (paper["table"] == numeral)
                & (paper["method"] == method)
                & (paper["dataset"] == dataset)
                & (paper["metric"] == metric)
            ]
            rows.append(
                {
                    "table": numeral,
                    "dataset": dataset,
                    "method": method,
                    "metric": metric,
                    **summarize(values),
                    "paper_mean": float(published["mean"].iloc[0]) if len(published) else math.nan,
                    "paper_std": float(published["std"].iloc[0]) if len(published) else math.nan,
                    "paper_text": _published_text(published),
                }
            )
    return pd.DataFrame(rows)


def _published_text(published: pd.DataFrame) -> str:
    """The published cell as printed ("0.089 ± 0.02"); empty where the paper has none."""
    if not len(published):
        return ""
    mean, std = published["mean_text"].iloc[0], published["std_text"].iloc[0]
    return f"{mean} ± {std}" if std else mean


def _number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def format_ours(row: pd.Series, digits: int = 3) -> str:
    if row["n"] == 0:
        return "—"
    text = _number(row["mean"], digits)
    if row["n"] > 1:
        text += f" ± {_number(row['std'], digits)}"
    return text


def format_interval(row: pd.Series, digits: int = 3) -> str:
    if row["n"] < 2:
        return "—"
    return f"[{_number(row['ci95_low'], digits)}, {_number(row['ci95_high'], digits)}]"


def format_paper(row: pd.Series) -> str:
    """The published value as the paper prints it."""
    return row["paper_text"] or "—"


def _column_label(spec: TableSpec, dataset: str, metric: str) -> str:
    label = METRIC_LABELS[metric]
    if len(spec.datasets) > 1:
        label = f"{get_dataset(dataset).name} {label}"
    return label


def _grid(spec: TableSpec, table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    companions = {c for names in COMPANIONS.values() for c in names}
    header = ["Method"]
    for dataset, metric in spec.shown:
        label = _column_label(spec, dataset, metric)
        header += [f"{label} ours"] if metric in companions else [f"{label} ours", "95% CI", f"{label} paper"]
    body = []
    for method in spec.methods:
        line = [method + (NOT_IN_PAPER if method in EXTRA_METHODS.get(spec.number, ()) else "")]
        for dataset, metric in spec.shown:
            row = table[(table["method"] == method) & (table["dataset"] == dataset) & (table["metric"] == metric)].iloc[
                0
            ]
            line += (
                [format_ours(row)]
                if metric in companions
                else [format_ours(row), format_interval(row), format_paper(row)]
            )
        body.append(line)
    return header, body


def caption(spec: TableSpec, table: pd.DataFrame, context: dict) -> str:
    """The table's title, the data it was computed on, seeds and the evaluator accuracy."""
    sources = context.get("data_sources", {})
    described = "; ".join(
        f"{get_dataset(d).name}: "
        + (
            "embedded synthetic data"
            if sources.get(d) == "synthetic"
            else f"real data ({sources[d]})"
            if d in sources
            else "not run"
        )
        for d in spec.datasets
    )
    seeds = int(table["n"].max()) if len(table) else 0
    parts = [f"Table {NUMERALS[spec.number]}: {table_title(spec)}.", f"Reproduced on {described}"]
    if seeds:
        parts[-1] += f", preset {context.get('preset', '?')}, {seeds} seed{'s' if seeds != 1 else ''} per cell."
    else:
        parts[-1] += f", preset {context.get('preset', '?')}: no reproduced values (too few test images, see the logs)."
    for dataset, evaluator in context.get("evaluators", {}).items():
        if dataset in spec.datasets and any(m in ("FID", "IS", "CGAcc") for _, m in spec.columns):
            parts.append(
                f"{get_dataset(dataset).name} evaluator ({evaluator['labels']}, "
                f"{evaluator['initialization']} initialization): test accuracy {evaluator['test_accuracy']:.3f} "
                f"(majority class {evaluator['chance_accuracy']:.3f})."
            )
    parts.append("Ours: mean ± sample std over seeds, 95% t-interval of the mean; paper: the published values.")
    if spec.number in PAPER_NOTES:
        parts.append(PAPER_NOTES[spec.number])
    if EXTRA_METHODS.get(spec.number):
        parts.append(
            f"Rows marked{NOT_IN_PAPER} have no published values: DAI+twice is DAI trained twice per "
            "batch, on x and on a rotated or flipped T(x), without selfReg; it gets the updates and the "
            "transformed images of the selfReg models and tells their effect from selfReg's."
        )
    if any(m == "FID" for _, m in spec.columns):
        parts.append(
            "FID (ours): the Fréchet distance of the evaluator's class logits of generated and real test images, "
            "our reading of the paper's TF-GAN FID, inferred from the published values' scale (the paper does "
            "not say which layer). FID, pooled features: the same images' Fréchet distance on the evaluator's "
            "768 pooled features, not the paper's scale. Both depend on the evaluator network (the logits' on "
            "how confident it is): compare rankings rather than values."
        )
    return " ".join(parts)


def to_markdown(spec: TableSpec, table: pd.DataFrame, context: dict) -> str:
    header, body = _grid(spec, table)
    lines = [caption(spec, table, context), "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(line) + " |" for line in body]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    return (
        text.replace("\\", r"\textbackslash{}")
        .replace("%", r"\%")
        .replace("&", r"\&")
        .replace("_", r"\_")
        .replace("#", r"\#")
        .replace("↓", r"$\downarrow$")
        .replace("↑", r"$\uparrow$")
        .replace("—", "--")
        .replace("±", r"$\pm$")
    )


def to_latex(spec: TableSpec, table: pd.DataFrame, context: dict) -> str:
    header, body = _grid(spec, table)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_latex_escape(caption(spec, table, context))}}}",
        rf"\label{{tab:drai-{spec.number}}}",
        r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        r"\hline",
        " & ".join(_latex_escape(h) for h in header) + r" \\",
        r"\hline",
    ]
    lines += [" & ".join(_latex_escape(cell) for cell in line) + r" \\" for line in body]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(spec: TableSpec, table: pd.DataFrame, context: dict) -> str:
    header, body = _grid(spec, table)
    frame = pd.DataFrame(body, columns=header)
    return f"<p>{caption(spec, table, context)}</p>\n" + frame.to_html(index=False, border=0)


def context_of(records: list[dict], evaluators: dict[str, dict]) -> dict:
    """Preset, data source per dataset and evaluator reports, as the caption states them."""
    sources = {r["dataset"]: r["data_source"] for r in records if "data_source" in r}
    presets = {r["config"]["preset"] for r in records if "config" in r}
    return {"data_sources": sources, "preset": ", ".join(sorted(presets)) or "?", "evaluators": evaluators}
