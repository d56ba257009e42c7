"""Evaluation: the evaluator network and the metrics of Section III-C."""
