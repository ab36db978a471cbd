"""Train a few steps on the committed fixtures, then evaluate: the whole recipe runs."""

import json

import keras
import numpy as np
import pytest

from training.evaluate import evaluate
from training.train import main, parse_args, train
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow  # every test here trains


def smoke_args(tmp_path) -> list[str]:
    """A few steps from random weights on the committed fixtures."""
    return [
        "--manifest", str(FIXTURES / "faces" / "manifest.csv"),
        "--cache-dir", str(tmp_path / "cache"),
        "--run-dir", str(tmp_path / "run"),
        "--out-dir", str(tmp_path / "model"),
        "--init", "random",
        "--epochs", "1",
        "--steps-per-epoch", "2",
        "--batch-size", "4",
        "--warmup-steps", "1",
        "--polish-epochs", "1",
        "--polish-warmup-steps", "1",
    ]


def epochs_logged(run_dir, stage: str) -> int:
    return len((run_dir / f"{stage}_history.csv").read_text().splitlines()) - 1  # minus the header


def test_train_then_evaluate_on_fixtures(tmp_path):
    cfg, _ = parse_args(smoke_args(tmp_path))
    model_dir = train(cfg, version="0.0.0-smoke")
    config = json.loads((model_dir / "config.json").read_text())
    assert (model_dir / "deepfake_classifier.keras").is_file()
    for key in ("threshold", "uncertain_band", "input_size", "margin", "class_order", "train_config", "sha256"):
        assert key in config, key
    low, high = config["uncertain_band"]
    assert low <= config["threshold"] <= high
    assert config["train_config"]["steps_per_epoch"] == 2
    # both cycles ran, and what ships is the folded layout the converter expects
    assert (epochs_logged(tmp_path / "run", "first_cycle"), epochs_logged(tmp_path / "run", "polish")) == (1, 1)
    shipped = keras.models.load_model(model_dir / "deepfake_classifier.keras")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in shipped.layers)

    report = evaluate(FIXTURES / "faces", tmp_path / "metrics.json", model_dir, workers=1)
    for key in ("overall", "per_source", "jpeg_q50", "downscale_0.5"):
        for metric in ("auc", "accuracy", "precision", "recall", "f1", "no_face", "n"):
            block = report[key] if key != "per_source" else report[key]["dfdc"]
            assert metric in block, (key, metric)
    assert report["overall"]["n"] == 6 and report["overall"]["no_face"] == 0
    assert (tmp_path / "metrics.roc.png").stat().st_size > 1000


def test_recalibrate_keeps_weights_and_follows_tta_setting(tmp_path):
    base = smoke_args(tmp_path)
    model_dir = train(parse_args(base + ["--tta-flip", "true"])[0], version="0.0.0-smoke")
    before = json.loads((model_dir / "config.json").read_text())
    weights_before = keras.models.load_model(model_dir / "deepfake_classifier.keras").get_weights()

    main(base + ["--tta-flip", "false", "--recalibrate", "--version", "0.0.0-smoke"])  # as the command line runs it
    after = json.loads((model_dir / "config.json").read_text())
    weights_after = keras.models.load_model(model_dir / "deepfake_classifier.keras").get_weights()

    assert before["tta_flip"] is True and after["tta_flip"] is False
    assert all(np.array_equal(a, b) for a, b in zip(weights_before, weights_after))
    low, high = after["uncertain_band"]
    assert low <= after["threshold"] <= high


def test_polish_trains_the_shipped_model_on_in_its_layout(tmp_path):
    base = smoke_args(tmp_path) + ["--polish-epochs", "0"]
    model_dir = train(parse_args(base)[0], version="0.0.0-smoke")
    before = keras.models.load_model(model_dir / "deepfake_classifier.keras")

    main(smoke_args(tmp_path) + ["--polish", "--version", "0.0.1-smoke"])  # as the command line runs it
    after = keras.models.load_model(model_dir / "deepfake_classifier.keras")

    assert [w.shape for w in before.get_weights()] == [w.shape for w in after.get_weights()]
    assert not all(np.array_equal(a, b) for a, b in zip(before.get_weights(), after.get_weights()))
    assert json.loads((model_dir / "config.json").read_text())["version"] == "0.0.1-smoke"
    assert epochs_logged(tmp_path / "run", "polish") == 1
