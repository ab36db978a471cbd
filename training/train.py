"""Train the shipped deepfake classifier from nothing.

    python -m training.train                  # face crops, then training, then val calibration
    python -m training.train --resume         # carry on an interrupted run
    python -m training.train --polish         # only the second (folded) cycle, on the model in --out-dir
    python -m training.train --from-torch runs/gpu/classifier.pt   # a net trained by training.train_gpu
    python -m training.train --epochs 1 --steps-per-epoch 5 --init random   # smoke run

Writes to --out-dir: deepfake_classifier.keras and config.json (this run's
config, the input size, preprocessing, class order, and the threshold and
uncertain band chosen on `val`). Checkpoints and train.log go to --run-dir.
"""

import argparse
import hashlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

from training.config import TrainConfig


def parse_args(argv=None) -> tuple[TrainConfig, argparse.Namespace]:
    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in TrainConfig.field_names():
        value = getattr(cfg, name)
        if isinstance(value, (dict, tuple)):
            continue  # structured knobs are edited in training/config.py
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=value, help=f"default {value}")
        else:
            p.add_argument(flag, type=type(value), default=value, help=f"default {value}")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --run-dir")
    p.add_argument(
        "--polish", action="store_true", help="only the folded second cycle, on the model in --out-dir"
    )
    p.add_argument(
        "--recalibrate", action="store_true", help="only choose threshold and band again for the model in --out-dir"
    )
    p.add_argument(
        "--greyscale-band",
        action="store_true",
        help="only choose the band for black-and-white faces again for the model in --out-dir (the rest of config.json stays)",
    )
    p.add_argument(
        "--from-torch", metavar="PT", help="only calibrate and save a net trained by training.train_gpu (its .pt file)"
    )
    p.add_argument("--version", default="1.0.0", help="model version written to config.json")
    args = p.parse_args(argv)
    for name in TrainConfig.field_names():
        if hasattr(args, name):
            setattr(cfg, name, getattr(args, name))
    return cfg, args


def set_seeds(seed: int):
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def compile_for_training(model, cfg: TrainConfig, peak_lr: float, warmup_steps: int, total_steps: int):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(total_steps - warmup_steps, 1),
        warmup_target=peak_lr,
        warmup_steps=min(warmup_steps, total_steps),
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay),
        loss=keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing),
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return model


def make_model(cfg: TrainConfig, total_steps: int):
    import keras

    from training.model import build_classifier, load_imagenet_weights

    model = build_classifier(cfg.image_size, cfg.dropout)
    if cfg.init == "imagenet":
        load_imagenet_weights(model)
    elif cfg.init != "random":
        raise SystemExit(f"--init must be 'imagenet' or 'random', not {cfg.init!r}.")
    if cfg.freeze_batchnorm:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # Keras 3: inference mode, statistics and scale fixed
    return compile_for_training(model, cfg, cfg.learning_rate, cfg.warmup_steps, total_steps)


def score(model, images: np.ndarray, tta_flip: bool, batch_size: int = 64) -> np.ndarray:
    x = images.astype(np.float32)
    p = model.predict(x, batch_size=batch_size, verbose=0)[:, 0]
    if tta_flip:
        p = (p + model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)[:, 0]) / 2
    return p


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(cfg: TrainConfig, resume: bool = False, version: str = "1.0.0") -> Path:
    """Run the whole recipe; return the folder holding the trained model."""
    from training.crops import load_split
    from training.model import fold_batchnorm
    from training.prepare import cache_path, prepare

    set_seeds(cfg.seed)
    cache = cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)
    if not cache.is_file():
        prepare(cfg.manifest, cfg.cache_dir, cfg.image_size, cfg.margin)
    train_crops, val_crops = load_split(cache, "train"), load_split(cache, "val")
    print(f"train {len(train_crops.labels)} faces, val {len(val_crops.labels)} faces")

    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    first_cycle = run_dir / "first_cycle.keras"  # folded; lets --resume skip a finished first cycle
    if not resume:
        clear_run(run_dir, "first_cycle", "polish")
        first_cycle.unlink(missing_ok=True)
    if resume and first_cycle.is_file():
        import keras

        model = keras.models.load_model(first_cycle)
        print(f"first cycle already done: {first_cycle}")
    else:
        total_steps = cfg.epochs * cfg.steps_per_epoch
        model = make_model(cfg, total_steps)
        fit(model, cfg, train_crops, val_crops, run_dir, "first_cycle", cfg.epochs, resume)
        model = fold_batchnorm(model)
        model.save(first_cycle)
    if cfg.polish_epochs:
        model = polish(model, cfg, train_crops, val_crops, resume)
    return calibrate_and_save(model, cfg, val_crops, version)


def clear_run(run_dir: Path, *stages: str):
    import shutil

    for stage in stages:
        shutil.rmtree(run_dir / f"{stage}_backup", ignore_errors=True)
        (run_dir / f"{stage}_history.csv").unlink(missing_ok=True)


def fit(model, cfg: TrainConfig, train_crops, val_crops, run_dir: Path, stage: str, epochs: int, resume: bool):
    """One cycle of `epochs`, checkpointed each epoch under run_dir/<stage>_backup."""
    import keras

    from training.data import eval_dataset, train_dataset

    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / f"{stage}_backup")),
        keras.callbacks.CSVLogger(str(run_dir / f"{stage}_history.csv"), append=resume),
    ]
    model.fit(
        train_dataset(train_crops, cfg),
        epochs=epochs,
        steps_per_epoch=cfg.steps_per_epoch,
        validation_data=eval_dataset(val_crops, 64),
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return model


def polish(model, cfg: TrainConfig, train_crops, val_crops, resume: bool = False):
    """The second cycle: the folded (BatchNorm-free) net trains on at a low rate."""
    from training.model import fold_batchnorm

    model = fold_batchnorm(model)
    print(f"polish: {cfg.polish_epochs} epochs at peak lr {cfg.polish_learning_rate}, BatchNorm folded")
    run_dir = Path(cfg.run_dir)
    if not resume:
        clear_run(run_dir, "polish")
    total_steps = cfg.polish_epochs * cfg.steps_per_epoch
    compile_for_training(model, cfg, cfg.polish_learning_rate, cfg.polish_warmup_steps, total_steps)
    return fit(model, cfg, train_crops, val_crops, run_dir, "polish", cfg.polish_epochs, resume)


def trained_model_and_cache(cfg: TrainConfig, flag: str):
    """The model already in --out-dir and the crop cache, for --polish and --recalibrate."""
    import keras

    from scoring.classifier import MODEL_FILE

    model_path = Path(cfg.out_dir) / MODEL_FILE
    if not model_path.is_file():
        raise SystemExit(f"{model_path} not found: {flag} needs a trained model in --out-dir.")
    return keras.models.load_model(model_path), existing_cache(cfg)


def existing_cache(cfg: TrainConfig) -> Path:
    """The crop cache that an earlier run (or training.prepare) wrote."""
    from training.prepare import cache_path

    cache = cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)
    if not cache.is_file():
        raise SystemExit(f"{cache} not found: run a training (or training.prepare) first.")
    return cache


def polish_shipped(cfg: TrainConfig, resume: bool, version: str) -> Path:
    """Only the second cycle, on the model already in --out-dir (e.g. one trained
    before the cycle existed), then calibration on `val` as after a full run."""
    from training.crops import load_split

    set_seeds(cfg.seed)
    model, cache = trained_model_and_cache(cfg, "--polish")
    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
    train_crops, val_crops = load_split(cache, "train"), load_split(cache, "val")
    model = polish(model, cfg, train_crops, val_crops, resume)
    return calibrate_and_save(model, cfg, val_crops, version)


def calibrate_and_save(model, cfg: TrainConfig, val_crops, version: str, gpu_run: dict | None = None) -> Path:
    """Choose the threshold and uncertain band on `val`, then write the model and config.json."""
    from scoring.model_config import MODEL_FILE, GreyscaleRule, ModelConfig
    from training.calibrate import auc_by_source, choose_band, choose_threshold
    from training.model import fold_batchnorm

    # the inference layout, without optimizer state: what the backend and the converter load
    shipped = fold_batchnorm(model)
    val_scores = score(shipped, val_crops.images, cfg.tta_flip)
    threshold = choose_threshold(val_crops.labels, val_scores)
    band = choose_band(val_crops.labels, val_scores, threshold)
    val_metrics = auc_by_source(val_crops.labels, val_scores, val_crops.sources)
    val_metrics["accuracy"] = float(((val_scores >= threshold) == val_crops.labels.astype(bool)).mean())
    print(f"val: {json.dumps(val_metrics)}; threshold {threshold}, uncertain band {band}")
    greyscale = greyscale_calibration(shipped, cfg, val_crops, threshold)

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / MODEL_FILE
    shipped.save(model_path)
    train_config = cfg.to_dict()
    if gpu_run:
        train_config["seed"] = gpu_run["args"]["seed"]  # the run's seed, not the CPU recipe's
    ModelConfig(
        name="deepfake-mobilenetv2",
        version=version,
        sha256=sha256(model_path),
        input_size=cfg.image_size,
        margin=cfg.margin,
        threshold=threshold,
        uncertain_band=tuple(band),
        greyscale=GreyscaleRule(**{**greyscale, "uncertain_band": tuple(greyscale["uncertain_band"])}),
        tta_flip=cfg.tta_flip,
        parameters=int(shipped.count_params()),
        val_metrics=val_metrics,
        train_config=train_config,
        gpu_run=gpu_run,  # training.train_gpu's schedule and per-epoch val AUC
    ).save(out)
    print(f"model written to {model_path}")
    return out


def greyscale_calibration(model, cfg: TrainConfig, val_crops, threshold: float) -> dict:
    """config.json's "greyscale" block: which face crops count as black-and-white
    (scoring.faces.colour_spread) and their wider uncertain band, chosen on the
    val faces turned grey at the colour threshold."""
    from scoring import faces
    from training.calibrate import GREY_MAX_BAND_SHARE, auc_by_source, choose_band, greyscale_copies

    grey_scores = score(model, greyscale_copies(val_crops.images), cfg.tta_flip)
    band = choose_band(val_crops.labels, grey_scores, threshold, GREY_MAX_BAND_SHARE)
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


def recalibrate_greyscale(cfg: TrainConfig) -> Path:
    """Choose only the greyscale block again for the model in --out-dir (e.g. one
    calibrated before the block existed); threshold, colour band and metrics stay."""
    from scoring.model_config import CONFIG_FILE
    from training.crops import load_split
    from training.model import fold_batchnorm

    model, cache = trained_model_and_cache(cfg, "--greyscale-band")
    path = Path(cfg.out_dir) / CONFIG_FILE
    config = json.loads(path.read_text())
    cfg.tta_flip = bool(config.get("tta_flip", False))  # score as the shipped model scores
    greyscale = greyscale_calibration(fold_batchnorm(model), cfg, load_split(cache, "val"), config["threshold"])
    # keep the key order of a fresh calibration: the block sits after the colour band
    config = {k: v for k, v in config.items() if k != "greyscale"}
    at = list(config).index("uncertain_band") + 1
    items = list(config.items())
    config = dict(items[:at] + [("greyscale", greyscale)] + items[at:])
    path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"greyscale band written to {path}")
    return path.parent


def recalibrate(cfg: TrainConfig, version: str) -> Path:
    """Calibrate the model already in --out-dir again under this config (e.g. another
    --tta-flip), without training: the weights stay, threshold and band follow."""
    from training.crops import load_split

    from scoring.model_config import CONFIG_FILE

    model, cache = trained_model_and_cache(cfg, "--recalibrate")
    config = Path(cfg.out_dir) / CONFIG_FILE
    gpu_run = json.loads(config.read_text()).get("gpu_run") if config.is_file() else None  # how it was trained stays
    return calibrate_and_save(model, cfg, load_split(cache, "val"), version, gpu_run)


def from_torch(cfg: TrainConfig, weights: Path, version: str) -> Path:
    """A net trained by training.train_gpu, copied into the Keras model, folded and
    calibrated on `val` as after a CPU run. The run's summary (the .json written
    beside the .pt) is saved into config.json."""
    import torch

    from training.crops import load_split
    from training.model import build_classifier, load_torchvision_state

    weights = Path(weights)
    if not weights.is_file():
        raise SystemExit(f"{weights} not found: --from-torch takes the .pt file training.train_gpu wrote.")
    cache = existing_cache(cfg)
    summary = weights.with_suffix(".json")
    gpu_run = json.loads(summary.read_text()) if summary.is_file() else None
    model = build_classifier(cfg.image_size, cfg.dropout)
    state = torch.load(weights, map_location="cpu")
    load_torchvision_state(model, {k: v.numpy() for k, v in state.items()})
    return calibrate_and_save(model, cfg, load_split(cache, "val"), version, gpu_run)


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cfg, args = parse_args(argv)
    if args.from_torch:
        from_torch(cfg, args.from_torch, args.version)
    elif args.recalibrate:
        recalibrate(cfg, args.version)
    elif args.greyscale_band:
        recalibrate_greyscale(cfg)
    elif args.polish:
        polish_shipped(cfg, args.resume, args.version)
    else:
        train(cfg, resume=args.resume, version=args.version)


if __name__ == "__main__":
    main()
