"""Package a trained run as a candidate model: Keras network, threshold, band, metrics, card.

    python -m training.package runs/train/classifier.pt --version 1.5.0
    python -m training.package RUN.pt --version 1.5.0-rc1 --name grey01 --skip-test

Copies the run's net (training.train's state_dict; its RUN.json beside it)
into the Keras network, folds BatchNorm into the convolutions (the layout that
ships), chooses the threshold, the uncertain band and the black-and-white band
on `val`, and writes a candidate folder (default runs/candidates/<name>/):
deepfake_classifier.keras, config.json (with the run's recipe and history),
metrics.json and its ROC plot (the test split through the backend's path,
training.evaluate) and MODEL_CARD.md (that model's figures). Nothing here
writes into shipped_model/: `python -m training.promote CANDIDATE` does that.
"""

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from training.config import TrainConfig

CANDIDATES_DIR = Path("runs/candidates")
MODEL_NAME = "deepfake-mobilenetv2"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def keras_network(weights: Path, cfg: TrainConfig):
    """The run's net in the shipped Keras layout: copied one to one, BatchNorm folded (same scores to 2e-5)."""
    import torch

    from training.model import build_classifier, fold_batchnorm, load_torchvision_state

    model = build_classifier(cfg.image_size, cfg.dropout, inner_size=cfg.inner_size)
    state = torch.load(weights, map_location="cpu")
    load_torchvision_state(model, {k: v.numpy() for k, v in state.items()})
    return fold_batchnorm(model)


def scores(model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    return model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0)[:, 0]


def calibration(model, val_crops) -> dict:
    """Threshold, uncertain band and val metrics, chosen on val's face crops."""
    from training.calibrate import auc_by_source, choose_band, choose_threshold

    val_scores = scores(model, val_crops.images)
    threshold = choose_threshold(val_crops.labels, val_scores)
    band = choose_band(val_crops.labels, val_scores, threshold, sources=val_crops.sources)
    val_metrics = auc_by_source(val_crops.labels, val_scores, val_crops.sources)
    val_metrics["accuracy"] = float(((val_scores >= threshold) == val_crops.labels.astype(bool)).mean())
    print(f"val: {json.dumps(val_metrics)}; threshold {threshold}, uncertain band {band}")
    return {"threshold": threshold, "uncertain_band": list(band), "val_metrics": val_metrics}


def greyscale_calibration(model, val_crops, threshold: float) -> dict:
    """config.json's "greyscale" block: which face crops count as black-and-white
    (scoring.faces.colour_spread) and their wider uncertain band, chosen on the
    val faces turned grey at the colour threshold."""
    from scoring import faces
    from training.calibrate import GREY_MAX_BAND_SHARE, auc_by_source, choose_band, greyscale_copies

    grey_scores = scores(model, greyscale_copies(val_crops.images))
    band = choose_band(val_crops.labels, grey_scores, threshold, GREY_MAX_BAND_SHARE, val_crops.sources)
    auc = auc_by_source(val_crops.labels, grey_scores, val_crops.sources)
    real = val_crops.labels == 0
    outside = (grey_scores < band[0]) | (grey_scores >= band[1])
    called_fake = float((outside & (grey_scores >= threshold))[real].mean())
    uncertain = float((~outside).mean())
    print(
        f"val faces turned grey: {json.dumps(auc)}; their uncertain band {band}: "
        f"{called_fake:.1%} of real ones called fake, {uncertain:.1%} of all uncertain"
    )
    return {
        "top_share": faces.GREY_TOP_SHARE,
        "max_spread": faces.GREY_MAX_SPREAD,
        "uncertain_band": list(band),
        "val_auc": auc["auc"],
        "val_real_called_fake": called_fake,
        "val_uncertain_share": uncertain,
    }


def save_calibrated(model, val_crops, out: Path, **fields):
    """Calibrate `model` on val, save it and its config.json in `out`; return the ModelConfig.

    fields: the rest of scoring's ModelConfig (name, version, crop, heatmap layer, recipe), which
    differ between one network (package) and an ensemble (training.ensemble).
    """
    from scoring.model_config import MODEL_FILE, GreyscaleRule, ModelConfig

    calibrated = calibration(model, val_crops)
    greyscale = greyscale_calibration(model, val_crops, calibrated["threshold"])
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    config = ModelConfig(
        sha256=sha256(out / MODEL_FILE),
        threshold=calibrated["threshold"],
        uncertain_band=tuple(calibrated["uncertain_band"]),
        greyscale=GreyscaleRule(**{**greyscale, "uncertain_band": tuple(greyscale["uncertain_band"])}),
        parameters=int(model.count_params()),
        val_metrics=calibrated["val_metrics"],
        **fields,
    )
    config.save(out)
    return config


def package(weights, version: str, out, cache_dir: str | None = None, test_data=None, skip_test: bool = False,
            workers: int = 2) -> Path:
    """Write the candidate folder `out` for the run whose best epoch is `weights`; return `out`.

    test_data: the folder whose test split is scored (default: the run's manifest's folder).
    """
    from scoring.model_config import SHIPPED_MODEL_DIR
    from training.crops import load_split
    from training.model import LAST_CONV
    from training.prepare import cache_path

    weights, out = Path(weights), Path(out)
    summary_path = weights.with_suffix(".json")
    if not weights.is_file() or not summary_path.is_file():
        raise SystemExit(f"{weights} and {summary_path.name} beside it are needed: "
                         "package the .pt of a finished training.train run.")
    if out.resolve() == SHIPPED_MODEL_DIR.resolve():
        raise SystemExit(f"{out} is the shipped model: package into a candidate folder, then "
                         "`python -m training.promote CANDIDATE` to ship it.")
    summary = json.loads(summary_path.read_text())
    cfg = TrainConfig(**summary["config"])
    cache = cache_path(cache_dir or cfg.cache_dir, cfg.image_size, cfg.margin)
    if not cache.is_file():
        raise SystemExit(f"{cache} not found: run python -m training.prepare (or pass --cache-dir).")
    val_crops = load_split(cache, "val")

    save_calibrated(
        keras_network(weights, cfg), val_crops, out,
        name=MODEL_NAME,
        version=version,
        input_size=cfg.image_size,
        margin=cfg.margin,
        heatmap_layer=LAST_CONV,
        train_config=summary["config"],  # training.config.TrainConfig as the run used it
        # how the run went: best val AUC, minutes, every epoch (the key 1.3.0 and 1.4.0 use)
        training_run={k: summary[k] for k in ("best_val_auc", "minutes", "history")},
    )
    print(f"candidate {version} in {out}")
    if not skip_test:
        from training.evaluate import evaluate
        from training.model_card import write_candidate_card

        evaluate(test_data or Path(cfg.manifest).parent, out / "metrics.json", out, workers)
        write_candidate_card(out)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", help="the .pt training.train wrote (its .json beside it)")
    p.add_argument("--version", required=True, help="the model version config.json records, e.g. 1.5.0")
    p.add_argument("--name", default=None, help="candidate folder name (default: the run's file name)")
    p.add_argument("--out", default=None, help=f"candidate folder (default {CANDIDATES_DIR}/NAME)")
    p.add_argument("--cache-dir", default=None,
                   help="face crops to calibrate on (default: the run's cache_dir; a GPU run may have used copies)")
    p.add_argument("--test-data", default=None,
                   help="data folder whose test split is scored (default: the run's manifest's folder)")
    p.add_argument("--skip-test", action="store_true", help="no metrics.json or card: val calibration only")
    p.add_argument("--workers", type=int, default=2, help="scoring processes for the test split")
    a = p.parse_args(argv)
    out = a.out or CANDIDATES_DIR / (a.name or Path(a.weights).stem)
    package(a.weights, a.version, out, a.cache_dir, a.test_data, a.skip_test, a.workers)


if __name__ == "__main__":
    main()
