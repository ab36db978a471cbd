"""scoring.model_config: the shipped config.json round-trips; a wrong one says what to fix."""

from __future__ import annotations

import json

import pytest

from scoring.model_config import (
    CONFIG_FILE,
    DEFAULT_HEATMAP_LAYER,
    SHIPPED_MODEL_DIR,
    ModelConfig,
    ModelConfigError,
)

SHIPPED = json.loads((SHIPPED_MODEL_DIR / CONFIG_FILE).read_text())


def test_the_shipped_config_round_trips_byte_for_byte(tmp_path):
    ModelConfig.load(SHIPPED_MODEL_DIR).save(tmp_path)
    assert (tmp_path / CONFIG_FILE).read_text() == (SHIPPED_MODEL_DIR / CONFIG_FILE).read_text()


def test_a_config_from_before_heatmap_layer_and_greyscale_reads_with_their_defaults():
    old = {k: v for k, v in SHIPPED.items() if k not in ("heatmap_layer", "greyscale")}
    # retired keys are dropped: a block, and flip averaging as every shipped model had it, off
    config = ModelConfig.from_dict({**old, "face_detector": {"input_size": 256}, "tta_flip": False})
    assert config.heatmap_layer == DEFAULT_HEATMAP_LAYER
    assert config.greyscale is None and config.greyscale_rule.uncertain_band == config.uncertain_band
    assert "face_detector" not in config.to_dict() and "tta_flip" not in config.to_dict()


def test_a_config_from_before_training_run_reads_its_gpu_run_as_the_training_run():
    old = {("gpu_run" if k == "training_run" else k): v for k, v in SHIPPED.items()}
    config = ModelConfig.from_dict(old)
    assert config.training_run == SHIPPED["training_run"]
    assert list(config.to_dict())[-1] == "training_run" and "gpu_run" not in config.to_dict()


def test_an_ensembles_heatmap_layers_round_trip_as_a_list(tmp_path):
    layers = ["m0_features_18_relu", "m1_features_18_relu"]
    ModelConfig.from_dict({**SHIPPED, "heatmap_layer": layers}).save(tmp_path)
    config = ModelConfig.load(tmp_path)
    assert config.heatmap_layers == tuple(layers)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["heatmap_layer"] == layers
    assert ModelConfig.load(SHIPPED_MODEL_DIR).heatmap_layers == (SHIPPED["heatmap_layer"],)


# (what is changed, the value, what the message says)
BAD_VALUES = [
    ("threshold", 1.5, "threshold is 1.5; it must lie strictly between 0 and 1"),
    ("threshold", "0.4", "threshold is '0.4'"),
    # above any threshold a model could have: low must not pass it
    ("uncertain_band", [0.99, 0.999], "uncertain_band is [0.99, 0.999]; it must be [low, high] with 0 <= low <= threshold"),
    ("uncertain_band", [0.1], "uncertain_band is [0.1]"),
    ("input_size", 160.5, "input_size is 160.5; it must be a whole number"),
    ("margin", -1, "margin is -1"),
    ("class_order", ["fake", "real"], "class_order is ['fake', 'real']; the scorers read one P(fake) output"),
    ("sha256", "abc", "sha256 is 'abc'; it must be 64 lowercase hex digits"),
    ("name", "", "name must be a non-empty string"),
    ("heatmap_layer", "", "heatmap_layer must be a non-empty string"),
    ("heatmap_layer", [], "heatmap_layer must be a non-empty string, or for an ensemble a list of them"),
    ("heatmap_layer", ["m0_features_18_relu", ""], "heatmap_layer must be a non-empty string"),
    ("heatmap_layer", 18, "heatmap_layer must be a non-empty string"),
    ("tta_flip", True, "tta_flip is True; this version scores one pass per face and no longer averages in the mirror"),
    ("tta_flip", "yes", "tta_flip is 'yes'; this version scores one pass per face"),
    ("greyscale", {**SHIPPED["greyscale"], "top_share": 0}, "greyscale.top_share is 0"),
    ("greyscale", {**SHIPPED["greyscale"], "uncertain_band": [0.5, 0.6]}, "greyscale.uncertain_band is [0.5, 0.6]"),
    ("greyscale", {**SHIPPED["greyscale"], "colour": 1}, "wrong shape"),
    ("threshold", None, "it lacks threshold"),
    ("thresold", 0.4, "unknown key(s) thresold; remove them, or add a field"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_VALUES, ids=[f"{k}={v!r}"[:40] for k, v, _ in BAD_VALUES])
def test_a_wrong_value_is_refused_with_what_to_fix(tmp_path, key, value, message):
    data = {k: v for k, v in {**SHIPPED, key: value}.items() if v is not None}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelConfigError) as refused:
        ModelConfig.load(tmp_path)
    assert message in str(refused.value)
    assert str(refused.value).startswith(str(tmp_path / CONFIG_FILE)) and "re-run the packaging step" in str(refused.value)


@pytest.mark.parametrize(("content", "message"), [
    (None, "is missing; package a trained model"),
    ("{ threshold: 0.5", "is not valid JSON"),
    ("[1, 2]", "the file must hold one JSON object"),
])
def test_a_missing_or_unreadable_file_says_what_to_do(tmp_path, content, message):
    if content is not None:
        (tmp_path / CONFIG_FILE).write_text(content)
    with pytest.raises(ModelConfigError, match=message):
        ModelConfig.load(tmp_path)
