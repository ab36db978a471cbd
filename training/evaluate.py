"""Evaluate the shipped model the way the backend scores: detect, crop, classify.

    python -m training.evaluate DATA --out metrics.json [--model-dir shipped_model]

DATA is a folder with `manifest.csv` (its `test` split is scored, per source)
or a folder with `real/` and `fake/` subfolders (one source, named after the
folder). Every image is scored as it is, after JPEG quality 50 re-compression,
and after 0.5x downscaling. Writes the metrics JSON and a ROC plot PNG beside
it (`<out>.roc.png`).
"""

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

VARIANTS = ("original", "jpeg_q50", "downscale_0.5")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


def list_images(data: Path) -> list[dict]:
    """[{path, label (0 real / 1 fake), source}] for a manifest folder or real/ + fake/."""
    data = Path(data)
    if (data / "manifest.csv").is_file():
        from training.prepare import LABELS, read_manifest

        rows = [r for r in read_manifest(data / "manifest.csv") if r["split"] == "test"]
        if not rows:
            raise SystemExit(f"{data / 'manifest.csv'} has no rows in the 'test' split.")
        return [{"path": r["path"], "label": LABELS[r["label"]], "source": r["source"]} for r in rows]
    if (data / "real").is_dir() and (data / "fake").is_dir():
        items = []
        for label_name, label in (("real", 0), ("fake", 1)):
            for p in sorted((data / label_name).rglob("*")):
                if p.suffix.lower() in IMAGE_SUFFIXES:
                    items.append({"path": str(p), "label": label, "source": data.resolve().name})
        if not items:
            raise SystemExit(f"{data}/real and {data}/fake hold no images.")
        return items
    raise SystemExit(f"{data} needs either a manifest.csv or real/ and fake/ subfolders.")


def degrade(data: bytes, variant: str) -> bytes:
    """The image bytes as they would arrive after a re-encode or a downscale."""
    if variant == "original":
        return data
    from PIL import Image

    from scoring.faces import load_image

    img = Image.fromarray(load_image(data))
    if variant == "downscale_0.5":
        img = img.resize((max(img.width // 2, 1), max(img.height // 2, 1)), Image.Resampling.LANCZOS)
        quality = 95
    elif variant == "jpeg_q50":
        quality = 50
    else:
        raise ValueError(f"unknown variant {variant!r}")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


_classifier = None


def _init_worker(model_dir):
    global _classifier
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    # one thread per process: two processes keep both cores busier than one
    # process whose small per-image ops cannot use two threads
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from scoring.classifier import Classifier

    _classifier = Classifier(model_dir)


def _score_one(job):
    """(variant, index, score or None when no face)."""
    path, variant, index = job
    from scoring.faces import ImageError, load_image

    try:
        rgb = load_image(degrade(Path(path).read_bytes(), variant))
    except ImageError:
        return variant, index, None
    return variant, index, _classifier.score_image(rgb, full_resolution=True).score


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """AUC and threshold metrics over images with a face; no_face counts the rest."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    found = ~np.isnan(scores)
    y, s = labels[found].astype(int), scores[found]
    out = {"n": int(len(labels)), "no_face": int((~found).sum())}
    out["auc"] = float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None
    pred = (s >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel().tolist()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    out.update(
        accuracy=float((pred == y).mean()) if len(y) else None,
        precision=float(precision),
        recall=float(recall),
        f1=float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0,
        confusion_matrix={"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    )
    return out


def summarise(items, scores: dict, threshold: float) -> dict:
    """The metrics JSON: overall, per_source, and the two degraded variants.

    A fake-only source (sdfd, genphotos) has no reals of its own: its AUC is
    that of its fakes against every real face of the split, as training logs it.
    """
    labels = np.array([it["label"] for it in items])
    sources = np.array([it["source"] for it in items])

    def block(s):
        result = metrics(labels, s, threshold)
        result["per_source"] = {}
        for src in sorted(set(sources)):
            m = sources == src
            result["per_source"][src] = metrics(labels[m], s[m], threshold)
            if labels[m].all():  # a fake-only source: its AUC against every real face of the split
                both = m | (labels == 0)
                result["per_source"][src]["auc"] = metrics(labels[both], s[both], threshold)["auc"]
        return result

    original = block(scores["original"])
    report = {"overall": {k: v for k, v in original.items() if k != "per_source"}}
    report["per_source"] = original["per_source"]
    for variant in VARIANTS[1:]:
        report[variant] = block(scores[variant])
        if report[variant]["auc"] is not None and report["overall"]["auc"] is not None:
            report[variant]["auc_drop"] = report["overall"]["auc"] - report[variant]["auc"]
    report["threshold"] = threshold
    return report


def plot_roc(items, scores: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    labels = np.array([it["label"] for it in items])
    sources = np.array([it["source"] for it in items])
    fig, ax = plt.subplots(figsize=(6, 6))
    curves = [(f"overall ({v})", scores[v], np.ones(len(items), bool)) for v in VARIANTS]
    curves += [(f"{src}", scores["original"], sources == src) for src in sorted(set(sources))]
    for name, s, mask in curves:
        keep = mask & ~np.isnan(s)
        if len(set(labels[keep].tolist())) == 2:
            fpr, tpr, _ = roc_curve(labels[keep], s[keep])
            ax.plot(fpr, tpr, label=name, linestyle="--" if "(" in name and "original" not in name else "-")
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    ax.set(xlabel="false positive rate (real called fake)", ylabel="true positive rate", title="ROC, test set")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(data, out, model_dir=None, workers: int = 2) -> dict:
    from scoring.model_config import SHIPPED_MODEL_DIR, ModelConfig

    model_dir = str(model_dir or SHIPPED_MODEL_DIR)
    items = list_images(Path(data))
    threshold = ModelConfig.load(model_dir).threshold
    scores = {v: np.full(len(items), np.nan) for v in VARIANTS}
    jobs = [(it["path"], v, i) for v in VARIANTS for i, it in enumerate(items)]
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(model_dir,)) as pool:
        for variant, i, score in tqdm(
            pool.imap_unordered(_score_one, jobs, chunksize=8), total=len(jobs), desc="scoring", file=sys.stderr
        ):
            if score is not None:
                scores[variant][i] = score
    report = summarise(items, scores, threshold)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    plot_roc(items, scores, out.with_suffix(".roc.png"))
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", help="folder with manifest.csv, or with real/ and fake/")
    p.add_argument("--out", default="metrics.json", help="metrics JSON path; the ROC PNG goes beside it")
    p.add_argument("--model-dir", default=None, help="model folder (default: shipped_model)")
    p.add_argument("--workers", type=int, default=2, help="scoring processes")
    a = p.parse_args(argv)
    report = evaluate(a.data, a.out, a.model_dir, a.workers)
    o = report["overall"]
    print(
        f"overall AUC {o['auc']:.4f} accuracy {o['accuracy']:.4f} no_face {o['no_face']}/{o['n']}; "
        + ", ".join(f"{s} AUC {m['auc']:.4f}" for s, m in report["per_source"].items() if m["auc"] is not None)
    )
    print(f"wrote {a.out} and {Path(a.out).with_suffix('.roc.png')}")


if __name__ == "__main__":
    main()
