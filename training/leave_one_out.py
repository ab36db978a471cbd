"""The leave-one-source-out report: how runs do on fake sources they never saw.

    python -m training.leave_one_out runs/loso/*.pt --out training/leave_one_out.json

Each run is a state_dict from training.train with its .json summary
beside it, which says which fake sources it left out (`--leave-out`). For
each run, on the crop cache: the AUC of every left-out source's fakes against
all the split's real faces (val and test), the AUC on the sources it trained
on (test), and the share of real faces called "fake" at a threshold chosen
on val (balanced accuracy, as training.calibrate chooses it), by source.
Scores come from the PyTorch net, so no TensorFlow is needed.

A run given as `a.pt+b.pt` is an ensemble: the mean of its members' logits,
as training.ensemble packages one for the server (a member may also be a
packaged model folder). Its left-out sources are those every member left
out: a source one member saw is not held out.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training.calibrate import auc_by_source, choose_threshold
from training.config import TrainConfig
from training.crops import load_split
from training.prepare import cache_path
from training.train import FAKE, REAL, load_run, run_summary, val_scores

SPLITS = ("val", "test")


def torch_run(weights: Path) -> tuple[str, list, dict, callable]:
    """A training.train run: its name, left-out sources, summary and scorer."""
    summary = run_summary(weights)
    if not summary:
        raise SystemExit(f"No {weights.with_suffix('.json')} beside {weights}: pass a run written by training.train.")
    net = load_run(weights, summary)
    net.eval()
    return weights.stem, list(summary["config"].get("leave_out", [])), summary, lambda crops: val_scores(net, crops, torch.device("cpu"))


def ensemble_scores(member_scores: list) -> np.ndarray:
    """P(fake) of an ensemble: the sigmoid of the mean of the members' logits."""
    p = np.clip(np.stack(member_scores).astype(np.float64), 1e-7, 1 - 1e-7)
    return (1.0 / (1.0 + np.exp(-np.log(p / (1 - p)).mean(0)))).astype(np.float32)


def ensemble_run(members: list) -> tuple[str, list, dict, callable]:
    """Runs scored as one: their mean logit; held out only what every member left out."""
    left_out = set(members[0][1]).intersection(*(m[1] for m in members[1:]))
    name = "+".join(m[0] for m in members)
    summary = {"best_val_auc": None}
    return name, sorted(left_out), summary, lambda crops: ensemble_scores([m[3](crops) for m in members])


def shipped_run(model_dir: Path, sources: set) -> tuple[str, list, dict, callable]:
    """A packaged model: the fake sources its recipe never named count as left out."""
    from scoring.classifier import Classifier

    classifier = Classifier(model_dir)
    recipe = classifier.config.train_config
    # the Keras recipe (to 1.4.0) named its sources in source_weights; training.train's in fake_weights
    trained_on = set(recipe.get("source_weights") or recipe["fake_weights"]) - set(recipe.get("leave_out", ()))
    summary = {"best_val_auc": classifier.config.val_metrics.get("auc")}
    return (f"{classifier.name} {classifier.version}", sorted(sources - trained_on), summary,
            lambda crops: classifier.score_crops(crops.images))


def report_run(run: tuple, splits: dict) -> dict:
    name, left_out, summary, score = run
    row = {"run": name, "left_out": left_out, "best_val_auc": summary.get("best_val_auc")}
    scores = {split: score(crops) for split, crops in splits.items()}
    val = splits["val"]
    seen = ~np.isin(val.sources, left_out) | (val.labels == REAL)
    threshold = choose_threshold(val.labels[seen], scores["val"][seen])
    row["threshold"] = threshold
    for name, crops in splits.items():
        s, real = scores[name], crops.labels == REAL
        held = np.isin(crops.sources, left_out) & ~real
        for source in left_out:
            m = real | ((crops.sources == source) & ~real)
            row[f"{name}_heldout_auc_{source}"] = round(float(auc_by_source(crops.labels[m], s[m], crops.sources[m])["auc"]), 4)
        trained_on = auc_by_source(crops.labels[~held], s[~held], crops.sources[~held])
        row[f"{name}_seen_auc"] = round(trained_on["auc"], 4)
        row[f"{name}_seen_auc_by_source"] = {k.removeprefix("auc_"): round(v, 4) for k, v in trained_on.items() if k != "auc"}
        row[f"{name}_real_called_fake"] = {
            source: round(float((s[real & (crops.sources == source)] >= threshold).mean()), 4)
            for source in sorted(set(crops.sources[real].tolist()))
        }
        row[f"{name}_fake_caught_heldout"] = round(float((s[held] >= threshold).mean()), 4) if held.any() else None
    return row


def markdown(rows: list[dict]) -> str:
    lines = ["| run | left out | held-out AUC val | held-out AUC test | seen AUC test | fakes caught (held-out, test) "
             "| reals called fake (test, worst source) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        held = lambda split: ", ".join(f"{s} {r[f'{split}_heldout_auc_{s}']:.3f}" for s in r["left_out"]) or "-"  # noqa: E731
        worst = max(r["test_real_called_fake"].items(), key=lambda kv: kv[1])
        caught = r["test_fake_caught_heldout"]
        lines.append(f"| {r['run']} | {', '.join(r['left_out']) or 'none'} | {held('val')} | {held('test')} "
                     f"| {r['test_seen_auc']:.3f} | {'-' if caught is None else f'{caught:.1%}'} "
                     f"| {worst[1]:.1%} ({worst[0]}) |")
    return "\n".join(lines)


def main(argv=None):
    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", help="state_dicts written by training.train (.json beside each); "
                   "a.pt+b.pt scores the two as an ensemble (mean logit); a member may be a packaged model folder")
    p.add_argument("--shipped", nargs="*", default=[],
                   help="packaged model folders (e.g. shipped_model) to report beside the runs")
    p.add_argument("--cache", default=str(cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)),
                   help="face crops from training.prepare")
    p.add_argument("--out", default=None, help="write the rows as JSON here too")
    a = p.parse_args(argv)
    splits = {name: load_split(a.cache, name) for name in SPLITS}
    sources = set(splits["val"].sources[splits["val"].labels == FAKE].tolist())
    runs = [shipped_run(Path(d), sources) for d in a.shipped]
    for spec in a.runs:
        members = [shipped_run(Path(w), sources) if Path(w).is_dir() else torch_run(Path(w)) for w in spec.split("+")]
        runs.append(members[0] if len(members) == 1 else ensemble_run(members))
    rows = [report_run(run, splits) for run in runs]
    print(markdown(rows))
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
