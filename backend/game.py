"""Spot the fake: GET /game shows a face, the person says real or fake, then sees the truth and the model's answer.

The faces come from the labelled folder DFD_GAME_DIR (real/ and fake/, or
a data folder's manifest.csv test split), which the operator provides: the project ships none, as the data sets allow
research use only. Faces travel under opaque ids, so the page cannot read
the answer from an address.
"""

from __future__ import annotations

import csv
import hashlib
import random
import threading
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file

from backend.db import GameAnswer, get_db
from backend.limits import game_limit, limiter
from backend.model import get_classifier, get_explainer
from backend.pages import CONTENT_SECURITY_POLICY
from scoring.explain import overlay_png, png_data_url
from scoring.faces import Face, ImageError, load_image

bp = Blueprint("game", __name__, url_prefix="/game")

ROUND_FACES = 10  # faces in a round: long enough to see a pattern, short enough to finish
LABELS = ("real", "fake")
IMAGE_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
                  ".gif": "image/gif", ".bmp": "image/bmp"}
NO_FOLDER = ("The game has no faces: set DFD_GAME_DIR to a folder with real/ and fake/ face images, "
             "or to a data folder whose manifest.csv has a test split, and restart the server.")
MANIFEST = "manifest.csv"  # training.prepare's: path,label,source,...,split; the game takes its test rows
MODEL_CACHE_FACES = 256  # model answers kept per process: a round asks for the same faces again


def _face_id(folder: Path, relative: str) -> str:
    # the same id in every worker process; the label stays out of it
    return hashlib.sha256(f"{folder.resolve()}\n{relative}".encode()).hexdigest()[:24]


def _scan(folder: Path) -> dict[str, tuple[str, str]]:
    """{id: (path inside folder, label)}: the manifest's test split, else every image under real/ and fake/."""
    faces = {}
    if (folder / MANIFEST).is_file():
        with open(folder / MANIFEST, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("split") == "test" and row.get("label") in LABELS:
                    relative = Path(row["path"]).as_posix()
                    if Path(relative).suffix.lower() in IMAGE_SUFFIXES and (folder / relative).is_file():
                        faces[_face_id(folder, relative)] = (relative, row["label"])
        return faces
    for label in LABELS:
        for path in sorted((folder / label).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                relative = path.relative_to(folder).as_posix()
                faces[_face_id(folder, relative)] = (relative, label)
    return faces


_catalogues: dict[tuple, dict] = {}
_lock = threading.Lock()


def _version(folder: Path) -> tuple | None:
    """What changes when the folder's faces do; None when it is no game folder."""
    if (folder / MANIFEST).is_file():
        return (MANIFEST, (folder / MANIFEST).stat().st_mtime_ns)
    if (folder / "real").is_dir() and (folder / "fake").is_dir():
        return tuple((folder / label).stat().st_mtime_ns for label in LABELS)
    return None


def catalogue() -> tuple[Path, dict[str, tuple[str, str]]]:
    """The game folder and its faces (scanned again when they change); 503 without any."""
    setting = current_app.config["GAME_DIR"]
    folder = Path(setting) if setting else None
    version = _version(folder) if folder is not None else None
    if version is None:
        abort(503, NO_FOLDER)
    key = (str(folder.resolve()), version)
    with _lock:
        if key not in _catalogues:
            _catalogues.clear()
            _catalogues[key] = _scan(folder)
    faces = _catalogues[key]
    if not faces:
        abort(503, NO_FOLDER)
    return folder, faces


def _face(face_id: str) -> tuple[Path, str, str]:
    folder, faces = catalogue()
    if face_id not in faces:
        abort(404, "No such face in the game folder; start a new round.")
    relative, label = faces[face_id]
    return folder / relative, relative, label


@bp.get("")
def page():
    """Serve the game page."""
    response = current_app.send_static_file("game.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/round")
def new_round():
    """Ten faces (fewer if the folder holds fewer), drawn at random from the game folder."""
    _, faces = catalogue()
    ids = random.sample(sorted(faces), min(ROUND_FACES, len(faces)))
    return jsonify(faces=ids, keep_answers=current_app.config["GAME_KEEP_ANSWERS"])


@bp.get("/face/<face_id>")
def face_image(face_id: str):
    """One face's image, served without its file name."""
    path, _, _ = _face(face_id)
    response = send_file(path, mimetype=IMAGE_SUFFIXES[path.suffix.lower()], max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@lru_cache(maxsize=MODEL_CACHE_FACES)
def _model_answer(path: Path, mtime_ns: int, model_dir: str) -> dict:
    """The model's score, verdict and heatmap of the most suspect face (cached per file version and model)."""
    classifier = get_classifier()
    try:
        rgb = load_image(path.read_bytes())
    except ImageError as e:
        return {"score": None, "verdict": "error", "heatmap": None, "error": str(e)}
    result = classifier.score_image(rgb, full_resolution=True)
    heatmap = None
    if result.faces:
        top = max(result.faces, key=lambda f: f.score)
        crop = classifier.crop(rgb, Face(top.box, top.detector_confidence))
        heatmap = png_data_url(overlay_png(crop, get_explainer()([crop])[0]))
    return {"score": result.score, "verdict": result.verdict, "heatmap": heatmap}


@bp.post("/answer")
@limiter.limit(game_limit, methods=["POST"])
def answer():
    """Check a guess: the truth, the model's score, verdict and heatmap, and who was right."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("face"), str) or body.get("guess") not in LABELS:
        abort(400, 'Send JSON like {"face": "<id from /game/round>", "guess": "real"} (guess: real or fake).')
    path, relative, truth = _face(body["face"])
    classifier = get_classifier()
    model = _model_answer(path, path.stat().st_mtime_ns, current_app.config["MODEL_DIR"])
    # the model's guess answers the same question as the person's: fake at or above its threshold
    model_guess = None if model["score"] is None else ("fake" if model["score"] >= classifier.threshold else "real")
    person_right, model_right = body["guess"] == truth, model_guess == truth
    if current_app.config["GAME_KEEP_ANSWERS"]:
        db = get_db()
        db.add(GameAnswer(face=relative, truth=truth, guess=body["guess"], model_score=model["score"],
                          person_right=person_right, model_right=model_right))
        db.commit()
    return jsonify(
        truth=truth,
        guess=body["guess"],
        person_right=person_right,
        model={**model, "guess": model_guess, "right": model_right, "threshold": classifier.threshold,
               "name": classifier.name, "version": classifier.version},
        kept=current_app.config["GAME_KEEP_ANSWERS"],
    )
