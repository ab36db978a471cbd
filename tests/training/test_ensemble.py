"""The server's ensemble: packaged models scored as one network, loadable wherever a model is."""

import json
import shutil

import numpy as np
import pytest

from harness import FIXTURES

keras = pytest.importorskip("keras")

from scoring.model_config import MODEL_FILE, SHIPPED_MODEL_DIR  # noqa: E402


def logit(p):
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


@pytest.fixture(scope="module")
def shipped():
    return keras.models.load_model(SHIPPED_MODEL_DIR / MODEL_FILE, compile=False)


@pytest.fixture(scope="module")
def shifted(shipped):
    """The shipped network with its output's bias raised by 2: every logit 2 higher."""
    model = keras.models.clone_model(shipped)
    model.set_weights(shipped.get_weights())
    head = model.get_layer("fake_probability")
    kernel, bias = head.get_weights()
    head.set_weights([kernel, bias + 2.0])
    return model


@pytest.fixture(scope="module")
def crops():
    from scoring.faces import crop_face, detect_faces, load_image

    out = []
    for path in sorted((FIXTURES / "faces" / "real").glob("*.jpg"))[:3] + sorted((FIXTURES / "faces" / "fake").glob("*.jpg"))[:3]:
        rgb = load_image(path.read_bytes())
        face = detect_faces(rgb)[0]
        out.append(crop_face(rgb, face.box, 0.25, 160))
    return np.stack(out).astype(np.float32)


@pytest.mark.parametrize("members, expected_logit", [
    (("shipped",), lambda z: z),  # one member: that member
    (("shipped", "shipped"), lambda z: z),  # twins: the same scores
    (("shipped", "shifted"), lambda z: z + 1.0),  # logits z and z + 2 average to z + 1
    (("shifted", "shifted", "shipped"), lambda z: z + 4.0 / 3.0),
])
def test_the_ensemble_scores_the_mean_of_its_members_logits(request, crops, members, expected_logit):
    from training.ensemble import ensemble_network

    nets = [request.getfixturevalue(name) for name in members]
    z = logit(request.getfixturevalue("shipped").predict(crops, verbose=0)[:, 0])
    got = ensemble_network(nets).predict(crops, verbose=0)[:, 0]
    np.testing.assert_allclose(logit(got), expected_logit(z), atol=2e-3)


def test_members_that_crop_differently_are_refused(tmp_path):
    from training.ensemble import package_ensemble

    other = tmp_path / "other"
    shutil.copytree(SHIPPED_MODEL_DIR, other, ignore=shutil.ignore_patterns("face_detector", "*.png"))
    config = json.loads((other / "config.json").read_text())
    config["margin"] = 0.4
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="crop faces differently"):
        package_ensemble([SHIPPED_MODEL_DIR, other], "0.0.1", tmp_path / "out", skip_test=True)


@pytest.mark.slow  # calibrates and converts two networks
def test_a_packaged_ensemble_scores_images_and_heatmaps_like_any_model(tmp_path, fixture_cache):
    """What the server does with MODEL_DIR pointing at an ensemble: load it, score a photo,
    say which model answered, and draw a heatmap."""
    from scoring.classifier import Classifier
    from scoring.explain import GradCam
    from scoring.faces import load_image
    from training.ensemble import ENSEMBLE_NAME, package_ensemble

    out = package_ensemble([SHIPPED_MODEL_DIR, SHIPPED_MODEL_DIR], "0.0.1-test", tmp_path / "ensemble",
                           cache_dir=str(fixture_cache.parent), test_data=FIXTURES / "faces", workers=1)
    classifier, alone = Classifier(out), Classifier(SHIPPED_MODEL_DIR)
    assert (classifier.name, classifier.version) == (ENSEMBLE_NAME, "0.0.1-test")
    recipe = classifier.config.train_config
    assert [m["version"] for m in recipe["ensemble"]] == [alone.version] * 2
    rgb = load_image((FIXTURES / "faces" / "fake").glob("*.jpg").__next__().read_bytes())
    scored, single = classifier.score_image(rgb), alone.score_image(rgb)
    assert [f.box for f in scored.faces] == [f.box for f in single.faces]
    assert scored.score == pytest.approx(single.score, abs=1e-4)  # twin members: the member's score
    card = (out / "MODEL_CARD.md").read_text()
    assert f"{alone.name} {alone.version}" in card and "| overall |" in card  # members named, test figures measured
    crop = classifier.crop(rgb, scored.faces[0])
    # the map is taken through both members, as their logits both make the score
    assert classifier.config.heatmap_layers == tuple(f"m{i}_{alone.config.heatmap_layer}" for i in range(2))
    heat = GradCam(classifier.model, classifier.config.heatmap_layer)(crop[None])
    assert heat.shape == (1, 160, 160) and heat.max() > 0
