"""The generated figures of a model card, from metrics.json and config.json.

    python -m training.model_card [--model-dir shipped_model]

The prose of shipped_model/MODEL_CARD.md is written by hand; the figures
between the `<!-- metrics:begin -->` and `<!-- metrics:end -->` markers come
from `metrics.json` (written by training.evaluate) and `config.json`, so the
card never quotes a number that was not measured. training.package writes a
candidate's card (its run and those figures); training.promote refreshes the
shipped card's figures.
"""

import argparse
import json
import re
from pathlib import Path

from scoring.model_config import ModelConfig

BEGIN, END = "<!-- metrics:begin -->", "<!-- metrics:end -->"
COLUMNS = ("auc", "accuracy", "precision", "recall", "f1", "no_face", "n")
TARGETS = {
    ("overall", "auc"): 0.97,
    ("overall", "accuracy"): 0.92,
    ("stylegan_ffhq", "auc"): 0.98,
    ("lfw_faceswap", "auc"): 0.99,
    ("dfdc", "auc"): 0.94,
}


def _cell(v):
    if isinstance(v, float):
        return f"{v:.4f}"
    return "" if v is None else str(v)


def metrics_tables(metrics: dict, config: dict) -> str:
    rows = [("overall", metrics["overall"])] + list(metrics["per_source"].items())
    for variant in ("jpeg_q50", "downscale_0.5"):
        rows.append((f"overall, {variant}", metrics[variant]))
        rows += [(f"{s}, {variant}", m) for s, m in metrics[variant]["per_source"].items()]
    lines = [
        f"Test split, every image through the backend's path (detect, crop, classify), "
        f"threshold {config['threshold']} (chosen on val), uncertain band {config['uncertain_band']}.",
        "",
        "| set | " + " | ".join(COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for name, m in rows:
        lines.append(f"| {name} | " + " | ".join(_cell(m.get(c)) for c in COLUMNS) + " |")
    lines += ["", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for (where, metric), wanted in TARGETS.items():
        got = metrics["overall"][metric] if where == "overall" else metrics["per_source"][where][metric]
        lines.append(f"| {where} {metric} | >= {wanted} | {got:.4f} | {'yes' if got >= wanted else 'no'} |")
    for variant in ("jpeg_q50", "downscale_0.5"):
        drop = metrics[variant].get("auc_drop")
        lines.append(f"| AUC drop under {variant} | <= 0.03 | {drop:.4f} | {'yes' if drop <= 0.03 else 'no'} |")
    share = metrics["overall"]["no_face"] / metrics["overall"]["n"]
    lines.append(f"| no face found | < 2% | {share:.2%} | {'yes' if share < 0.02 else 'no'} |")
    lines += ["", "![ROC curves on the test split](metrics.roc.png)"]
    return "\n".join(lines)


def metrics_block(model_dir: Path) -> str:
    metrics = json.loads((model_dir / "metrics.json").read_text())
    config = ModelConfig.load(model_dir).to_dict()
    return f"{BEGIN}\n{metrics_tables(metrics, config)}\n{END}"


def calibration_and_results(model_dir: Path) -> list[str]:
    """A card's lines on the val calibration, then its measured test figures."""
    config = ModelConfig.load(model_dir).to_dict()
    val, grey = config["val_metrics"], config["greyscale"]
    return [
        f"- val: AUC {val['auc']:.4f}, accuracy {val['accuracy']:.4f} at threshold {config['threshold']}, "
        f"uncertain band {config['uncertain_band']}",
        f"- val faces turned grey: AUC {grey['val_auc']:.4f}, band {grey['uncertain_band']}",
        "",
        "## Results",
        "",
        metrics_block(model_dir),
        "",
    ]


def write_candidate_card(model_dir: Path) -> Path:
    """MODEL_CARD.md of a packaged candidate: how its run went, val calibration, test figures."""
    config = ModelConfig.load(model_dir).to_dict()
    recipe, run = config["train_config"], config["training_run"]
    best = max(run["history"], key=lambda row: row["val_auc"])
    lines = [
        f"# Candidate: {config['name']} {config['version']}",
        "",
        "Packaged by `python -m training.package`; ship it with `python -m training.promote` "
        "(the shipped card's prose is then updated by hand).",
        "",
        f"- run: `{recipe['out']}`, {len(run['history'])} epochs of {recipe['samples_per_epoch']} faces at batch "
        f"{recipe['batch_size']}, peak lr {recipe['learning_rate']}, seed {recipe['seed']}"
        + (f", distilled from {len(recipe['teachers'])} runs" if recipe["teachers"] else "")
        + (f", left out: {', '.join(recipe['leave_out'])}" if recipe["leave_out"] else "")
        + f"; {run['minutes']} min; the recipe is `train_config` in config.json",
        f"- kept: epoch {best['epoch']}, val AUC {run['best_val_auc']:.4f}",
        *calibration_and_results(model_dir),
    ]
    card = model_dir / "MODEL_CARD.md"
    card.write_text("\n".join(lines))
    return card


def refresh(model_dir: Path):
    """Rewrite the figures between the markers of model_dir/MODEL_CARD.md; the prose stays."""
    card = model_dir / "MODEL_CARD.md"
    block = metrics_block(model_dir)
    text = card.read_text()
    if BEGIN not in text:
        raise SystemExit(f"{card} has no {BEGIN} ... {END} markers to fill.")
    card.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))


def main(argv=None):
    from scoring.classifier import SHIPPED_MODEL_DIR

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default=str(SHIPPED_MODEL_DIR), help="folder with MODEL_CARD.md and metrics.json")
    refresh(Path(p.parse_args(argv).model_dir))


if __name__ == "__main__":
    main()
