"""The JSON API under /api/v1: score an image, describe the model, health."""

from __future__ import annotations

import hmac
import json
import time
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request

from backend import fetch, provenance
from backend.model import get_classifier, get_explainer
from scoring.explain import overlay_png, png_data_url
from scoring.answer import answer
from scoring.faces import Face, ImageError, NotAnImageError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"
FLAGS = {"1": True, "true": True, "0": False, "false": False}
# model facts a client may show or check; the rest of config.json is training detail
MODEL_FIELDS = ("name", "version", "sha256", "input_size", "margin", "class_order", "threshold",
                "uncertain_band", "greyscale", "val_metrics")


@bp.before_request
def require_token():
    """Refuse API calls without the configured bearer token (CORS preflights carry none)."""
    token = current_app.config["API_TOKEN"]
    if not token or request.method == "OPTIONS":
        return None
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        response = jsonify(error="Send the API token as 'Authorization: Bearer <token>'.")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="deepfake-check"'
        return response
    return None


def _explain_flag() -> bool:
    value = request.args.get("explain", "0").strip().lower()
    if value not in FLAGS:
        abort(400, "Set explain to 1 or 0.")
    return FLAGS[value]


def _image_bytes() -> bytes:
    """The image from a multipart field, a JSON {"url": ...} or the raw body."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("url"), str) or not body["url"].strip():
            abort(400, 'Send JSON like {"url": "https://example.com/photo.jpg"}.')
        config = current_app.config
        try:
            return fetch.fetch_image(
                body["url"].strip(),
                allow_private=config["ALLOW_PRIVATE_URLS"],
                timeout_s=config["FETCH_TIMEOUT_S"],
                max_bytes=int(config["FETCH_MAX_MB"] * 1_000_000),
            )
        except fetch.FetchError as e:
            abort(e.status, str(e))
    return uploaded_bytes("image")


def uploaded_bytes(field: str) -> bytes:
    """The upload from the multipart field `field` (also what it is called) or the raw body."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get(field)
        if upload is None:
            abort(400, f"Send the {field} in the multipart field '{field}'.")
        data = upload.read()
    else:
        data = request.get_data(cache=False)
    if not data:
        abort(400, f"The request holds no {field}; send it as the multipart field '{field}' or as the body.")
    return data


@bp.post("/score")
def score():
    """Score every face in an uploaded or fetched image at full resolution."""
    started = time.perf_counter()
    explain = _explain_flag()
    data = _image_bytes()
    classifier = get_classifier()
    try:
        rgb, result, out = answer(classifier, data)
    except NotAnImageError as e:
        abort(415, str(e))
    except ImageError as e:
        abort(422, str(e))
    # what the file declares is read beside the pixel verdict, never folded into it
    out["provenance"] = provenance.read(data, provenance.trust_anchors(current_app.config["C2PA_TRUST_ANCHORS"]))
    if explain and result.faces:
        crops = [classifier.crop(rgb, Face(f.box, f.detector_confidence)) for f in result.faces]
        heats = get_explainer()(crops)
        for face, crop, heat in zip(out["faces"], crops, heats):
            face["heatmap"] = png_data_url(overlay_png(crop, heat))
    # the whole request: fetching a URL and drawing heatmaps included
    out["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return jsonify(out)


@bp.get("/model")
def model():
    """Describe the loaded model: name, version, threshold and validation metrics."""
    config = get_classifier().config.to_dict()
    return jsonify({key: config[key] for key in MODEL_FIELDS if key in config})


@bp.get("/health")
def health():
    """Say the server is up with its model loaded."""
    classifier = get_classifier()
    return jsonify(status="ok", model={"name": classifier.name, "version": classifier.version})


@lru_cache(maxsize=1)
def _openapi() -> dict:
    return json.loads(OPENAPI_PATH.read_text())


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI description of this API."""
    return jsonify(_openapi())
