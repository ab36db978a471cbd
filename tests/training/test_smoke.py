"""The whole path on the committed fixtures, trained once for the module:
training.train, then training.package (a candidate folder), then training.promote."""

import json
import shutil

import numpy as np
import pytest

from harness import FIXTURES

torch = pytest.importorskip("torch", reason="training extra: bash scripts/install_training.sh installs torch")

pytestmark = pytest.mark.slow  # every test here trains (the folder's conftest marks them training)

# given on the command line, so the candidate's config must record them
RECIPE_FLAGS = ["--real-weights", "dfdc=0.6", "lfw_faceswap=0.2", "stylegan_ffhq=0.2", "--jpeg-quality", "40", "90"]


@pytest.fixture(scope="module")
def candidate(tmp_path_factory, fixture_cache):
    """A two-epoch run from random weights, packaged with the fixtures' test split scored."""
    from training import package, train

    tmp = tmp_path_factory.mktemp("smoke")
    train.main([
        "--cache-dir", str(fixture_cache.parent), "--manifest", str(FIXTURES / "faces" / "manifest.csv"),
        "--weights", "random", "--out", str(tmp / "run" / "net.pt"), "--epochs", "2", "--samples-per-epoch", "16",
        "--batch-size", "8", "--warmup-steps", "1", "--workers", "0", *RECIPE_FLAGS,
    ])
    package.main([str(tmp / "run" / "net.pt"), "--version", "0.0.0-smoke", "--out", str(tmp / "candidate"),
                  "--workers", "1"])
    return tmp / "candidate"


def test_the_candidate_records_its_recipe_and_calibration(candidate):
    config = json.loads((candidate / "config.json").read_text())
    summary = json.loads((candidate.parent / "run" / "net.json").read_text())
    assert config["version"] == "0.0.0-smoke"
    assert config["train_config"] == summary["config"]
    assert config["train_config"]["real_weights"] == {"dfdc": 0.6, "lfw_faceswap": 0.2, "stylegan_ffhq": 0.2}
    assert config["train_config"]["jpeg_quality"] == [40, 90]
    assert [row["epoch"] for row in config["training_run"]["history"]] == [1, 2]
    assert config["training_run"]["best_val_auc"] == max(row["val_auc"] for row in summary["history"])
    low, high = config["uncertain_band"]
    assert low <= config["threshold"] <= high
    grey_low, grey_high = config["greyscale"]["uncertain_band"]
    assert grey_low <= config["threshold"] <= grey_high
    report = json.loads((candidate / "metrics.json").read_text())
    assert report["overall"]["n"] == 6 and report["overall"]["no_face"] == 0
    assert (candidate / "metrics.roc.png").stat().st_size > 1000
    assert "<!-- metrics:begin -->" in (candidate / "MODEL_CARD.md").read_text()


def test_the_candidate_loads_in_scoring_and_scores_as_the_trained_net(candidate, fixture_cache):
    """What the backend loads gives the val crops the scores the PyTorch net gave them."""
    import keras

    from scoring.classifier import Classifier
    from training.crops import load_split
    from training.torch_model import DeepfakeMobileNetV2

    classifier = Classifier(candidate)
    assert classifier.version == "0.0.0-smoke"
    shipped = keras.models.load_model(candidate / "deepfake_classifier.keras")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in shipped.layers)

    net = DeepfakeMobileNetV2()
    net.load_state_dict(torch.load(candidate.parent / "run" / "net.pt"))
    val = load_split(fixture_cache, "val")
    with torch.no_grad():
        theirs = torch.sigmoid(net.eval()(torch.from_numpy(val.images.transpose(0, 3, 1, 2).copy()))).numpy()
    np.testing.assert_allclose(shipped.predict(val.images.astype(np.float32), verbose=0)[:, 0], theirs, atol=2e-5)
    np.testing.assert_allclose(classifier.score_crops(val.images), theirs, atol=1e-4)


def test_promote_copies_the_candidate_and_refreshes_the_cards_figures(candidate, tmp_path):
    from scoring.model_config import SHIPPED_MODEL_DIR
    from training.promote import promote

    target = tmp_path / "shipped"
    shutil.copytree(SHIPPED_MODEL_DIR, target, ignore=shutil.ignore_patterns("face_detector"))
    promote(candidate, target)
    for name in ("deepfake_classifier.keras", "config.json", "metrics.json"):
        assert (target / name).read_bytes() == (candidate / name).read_bytes(), name
    card = (target / "MODEL_CARD.md").read_text()
    assert "threshold " + str(json.loads((candidate / "config.json").read_text())["threshold"]) in card
    assert "## Intended use" in card  # the hand-written prose stays
    with pytest.raises(SystemExit, match="already ships version 0.0.0-smoke"):
        promote(candidate, target)


def test_packaging_writes_a_candidate_never_the_shipped_model(candidate, tmp_path, monkeypatch):
    from scoring.model_config import SHIPPED_MODEL_DIR
    from training import package

    weights = candidate.parent / "run" / "net.pt"
    shipped_before = (SHIPPED_MODEL_DIR / "config.json").read_bytes()
    monkeypatch.chdir(tmp_path)
    package.main([str(weights), "--version", "0.0.1-smoke", "--skip-test"])
    assert json.loads((tmp_path / "runs/candidates/net/config.json").read_text())["version"] == "0.0.1-smoke"
    assert (SHIPPED_MODEL_DIR / "config.json").read_bytes() == shipped_before
    with pytest.raises(SystemExit, match="is the shipped model"):
        package.main([str(weights), "--version", "9.9.9", "--out", str(SHIPPED_MODEL_DIR)])
    with pytest.raises(SystemExit):  # no version, no package: argparse says --version is required
        package.main([str(weights)])


def test_promote_refuses_an_unfinished_candidate(candidate, tmp_path):
    from training.promote import promote

    partial = tmp_path / "partial"
    shutil.copytree(candidate, partial, ignore=shutil.ignore_patterns("metrics.*"))
    with pytest.raises(SystemExit, match="lacks metrics.json"):
        promote(partial, tmp_path / "shipped")
    assert not (tmp_path / "shipped").exists()
