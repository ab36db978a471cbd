"""Batch scanner: score a whole collection of images with the shipped model.

    python -m scan PATH_OR_LIST --out results.jsonl [--csv summary.csv] [--ray [ADDRESS]]

Each image becomes one JSON line with the scoring server's answer
(scoring.answer) plus its path or URL and an error field. Runs on all cores
of this machine by default, or on a Ray cluster with --ray.
"""
