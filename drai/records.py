"""The records a run leaves behind, defined once: what ``metrics.json`` and ``evaluator.json`` hold.

The workflow's adapters build them here and the tables, the learning check and
the audit read them here, so that a field is named in one place.

``evaluator.json`` (one per dataset): ``dataset``, ``labels`` (what the
evaluator classifies, in words), ``class_names``, ``data_source``, ``settings``
and the training report of :func:`drai.metrics.evaluator.train_evaluator`
(``test_accuracy``, ``chance_accuracy``, ``initialization`` ...).

``metrics.json`` (one per run and stage): ``dataset``, ``variant``, ``seed``,
``stage`` (``trained`` or ``untrained``), ``steps``, ``data_source``,
``metrics`` (``fid_logits``: the FID of the evaluator's logits, on the paper's scale; ``fid``: the FID of its
pooled features; IS, CGAcc, CIFC, retrieval ...; None where undefined), the
evaluator's summary (:data:`EVALUATOR_SUMMARY`) and ``config`` (the preset,
the settings the model was trained with and those the metrics were computed
with). Table IV's "Pixel Matched" row has a ``metrics.json`` of its own, with
``variant`` "Pixel Matched" and ``top_n``.
"""

from __future__ import annotations

import json
from pathlib import Path

#: The fields of ``evaluator.json`` that each ``metrics.json`` repeats, so that a table needs no other file.
EVALUATOR_SUMMARY = ("labels", "class_names", "test_accuracy", "chance_accuracy", "initialization")


def evaluator_record(dataset: str, labels: str, class_names, data_source: str, settings: dict, report: dict) -> dict:
    """``evaluator.json``: the evaluator of ``dataset`` and its test report."""
    return {
        "dataset": dataset,
        "labels": labels,
        "class_names": list(class_names),
        "data_source": data_source,
        "settings": settings,
        **report,
    }


def metrics_record(
    dataset: str,
    variant: str,
    seed: int,
    stage: str,
    steps: int,
    data_source: str,
    metrics: dict,
    evaluator: dict,
    config: dict,
) -> dict:
    """``metrics.json`` of one run; ``evaluator`` is its ``evaluator.json``, ``config`` holds ``preset``,
    ``train`` (the settings the model was trained with: its checkpoint's) and ``evaluate`` (the ones these
    metrics were computed with)."""
    return {
        "dataset": dataset,
        "variant": variant,
        "seed": int(seed),
        "stage": stage,
        "steps": int(steps),
        "data_source": data_source,
        "metrics": metrics,
        "evaluator": {key: evaluator[key] for key in EVALUATOR_SUMMARY},
        "config": {key: config[key] for key in ("preset", "train", "evaluate")},
    }


def pixel_matched_record(dataset: str, data_source: str, metrics: dict, top_n: int) -> dict:
    """Table IV's "Pixel Matched" row: retrieval by nearest pixels, no model."""
    return {
        "dataset": dataset,
        "variant": "Pixel Matched",
        "data_source": data_source,
        "metrics": metrics,
        "top_n": top_n,
    }


def read_records(paths) -> list[dict]:
    """The records (``metrics.json`` or any other) in ``paths``, in order."""
    return [json.loads(Path(path).read_text()) for path in paths]


def read_evaluators(paths) -> dict[str, dict]:
    """``evaluator.json`` files by their dataset."""
    return {record["dataset"]: record for record in read_records(paths)}
