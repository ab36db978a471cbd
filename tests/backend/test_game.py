"""Spot the fake, server side: rounds from DFD_GAME_DIR, answers with the truth and the model's score, kept answers."""

from __future__ import annotations

import base64
import csv
import io
import re
import shutil

import pytest
from PIL import Image
from harness.servers import FIXTURES
from sqlalchemy import select

from backend.db import GameAnswer, get_db
from backend.model import get_classifier
from scoring.faces import load_image

FACES = FIXTURES / "faces"
PICKED = {"real": sorted((FACES / "real").glob("*.jpg"))[:3], "fake": sorted((FACES / "fake").glob("*.jpg"))[:3]}


@pytest.fixture(scope="module")
def game_dir(tmp_path_factory):
    """A labelled folder of 3 real and 3 fake fixture faces, one in a subfolder."""
    folder = tmp_path_factory.mktemp("game")
    for label, paths in PICKED.items():
        for i, path in enumerate(paths):
            target = folder / label / ("deeper" if i == 0 else "") / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    (folder / "real" / "notes.txt").write_text("not an image")
    return folder


def truth_by_bytes() -> dict[bytes, tuple[str, object]]:
    return {p.read_bytes(): (label, p) for label, paths in PICKED.items() for p in paths}


@pytest.mark.parametrize("setting", ["", "/nonexistent/game"], ids=["no folder set", "folder missing"])
def test_without_a_folder_the_game_says_how_to_set_one(make_app, setting):
    client = make_app(GAME_DIR=setting).test_client()
    page = client.get("/game")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    response = client.get("/game/round")
    assert response.status_code == 503
    assert "set DFD_GAME_DIR to a folder with real/ and fake/" in response.get_json()["error"]


def test_a_round_shows_each_face_once_without_giving_its_label_away(make_app, game_dir):
    client = make_app(GAME_DIR=str(game_dir)).test_client()
    body = client.get("/game/round").get_json()
    assert len(body["faces"]) == 6 and len(set(body["faces"])) == 6  # fewer than 10 faces: all of them
    assert body["keep_answers"] is False
    truths = truth_by_bytes()
    served = []
    for face_id in body["faces"]:
        assert re.fullmatch(r"[0-9a-f]{24}", face_id)
        image = client.get(f"/game/face/{face_id}")
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
        assert "real" not in image.headers.get("Content-Disposition", "") + face_id
        served.append(truths[image.data][0])
    assert sorted(served) == ["fake"] * 3 + ["real"] * 3


def test_an_answer_gives_the_truth_and_the_models_score_and_heatmap(make_app, game_dir):
    app = make_app(GAME_DIR=str(game_dir))
    client = app.test_client()
    truths = truth_by_bytes()
    with app.app_context():
        classifier = get_classifier()
    for face_id in client.get("/game/round").get_json()["faces"]:
        truth, path = truths[client.get(f"/game/face/{face_id}").data]
        body = client.post("/game/answer", json={"face": face_id, "guess": "fake"}).get_json()
        assert (body["truth"], body["guess"], body["person_right"]) == (truth, "fake", truth == "fake")
        direct = classifier.score_image(load_image(path.read_bytes()), full_resolution=True)
        model = body["model"]
        assert model["score"] == pytest.approx(direct.score, abs=1e-5)
        assert model["guess"] == ("fake" if direct.score >= classifier.threshold else "real")
        assert model["right"] == (model["guess"] == truth)
        prefix = "data:image/png;base64,"
        heat = Image.open(io.BytesIO(base64.b64decode(model["heatmap"].removeprefix(prefix))))
        assert heat.format == "PNG" and heat.size == (classifier.input_size, classifier.input_size)


@pytest.mark.parametrize("keep", [True, False], ids=["kept (opt-in)", "not kept (default)"])
def test_answers_are_kept_anonymously_only_when_the_operator_opts_in(make_app, game_dir, tmp_path, keep):
    app = make_app(GAME_DIR=str(game_dir), GAME_KEEP_ANSWERS=keep, REPORTS_DB=str(tmp_path / "game.sqlite3"))
    client = app.test_client()
    faces = client.get("/game/round").get_json()["faces"][:2]
    answers = [client.post("/game/answer", json={"face": f, "guess": "real"}).get_json() for f in faces]
    with app.app_context():
        rows = get_db().scalars(select(GameAnswer).order_by(GameAnswer.id)).all()
        kept = [(r.truth, r.guess, r.person_right, r.model_right, r.model_score) for r in rows]
        paths = [r.face for r in rows]
    if not keep:
        assert kept == []
        return
    assert kept == [(a["truth"], "real", a["person_right"], a["model"]["right"], a["model"]["score"]) for a in answers]
    assert all(re.fullmatch(r"(real|fake)/[\w./-]+\.jpg", p) for p in paths)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"guess": "real"}, 400, 'Send JSON like {"face"'),
        ({"face": "x", "guess": "maybe"}, 400, "guess: real or fake"),
        ("real", 400, 'Send JSON like {"face"'),
        ({"face": "0" * 24, "guess": "real"}, 404, "No such face in the game folder; start a new round."),
    ],
    ids=["no face", "bad guess", "not an object", "unknown face"],
)
def test_bad_answers_get_a_json_error(make_app, game_dir, body, status, message):
    client = make_app(GAME_DIR=str(game_dir)).test_client()
    response = client.post("/game/answer", json=body)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert client.get("/game/face/" + "0" * 24).status_code == 404


def test_a_data_folder_with_a_manifest_plays_its_test_split(make_app):
    # tests/fixtures/faces is laid out like the project's data: manifest.csv with train/val/test rows
    with open(FACES / "manifest.csv", newline="") as f:
        test_rows = {(FACES / r["path"]).read_bytes(): r["label"] for r in csv.DictReader(f) if r["split"] == "test"}
    client = make_app(GAME_DIR=str(FACES)).test_client()
    faces = client.get("/game/round").get_json()["faces"]
    assert len(faces) == min(10, len(test_rows))
    for face_id in faces[:3]:
        image = client.get(f"/game/face/{face_id}").data
        assert client.post("/game/answer", json={"face": face_id, "guess": "real"}).get_json()["truth"] == test_rows[image]


def test_game_answers_are_rate_limited_per_client_address(make_app, game_dir):
    client = make_app(GAME_DIR=str(game_dir), GAME_RATE_LIMIT="2 per minute").test_client()
    face = client.get("/game/round").get_json()["faces"][0]
    statuses = [client.post("/game/answer", json={"face": face, "guess": "real"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/game/round").status_code == 200  # drawing faces costs nothing and is not counted
