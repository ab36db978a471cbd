"""The JSON API and the upload page through Flask's test client."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import subprocess
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

import jsonschema
import pytest
from PIL import Image
from harness.servers import FIXTURES, PORTRAIT, PORTRAIT_FACE_CENTRE, PORTRAIT_SIZE, box_contains, encode, portrait

from backend.api import MODEL_FIELDS, OPENAPI_PATH
from backend.config import SETTINGS, from_env
from backend.model import get_classifier
from scoring.faces import load_image
from scoring.model_config import ModelConfig

REPO = Path(__file__).resolve().parents[2]
SCORE = "/api/v1/score"
OPENAPI = json.loads((REPO / "backend" / "openapi.json").read_text())
FACE_IMAGES = sorted((FIXTURES / "faces").glob("*/*.jpg"))
EXTENSION_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"


@pytest.fixture(scope="module")
def classifier(app):
    with app.app_context():
        return get_classifier()


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    """Validates against a schema of the OpenAPI document, its references resolved."""
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": OPENAPI["components"]})


def post_multipart(client, data: bytes, query: str = ""):
    return client.post(SCORE + query, data={"image": (io.BytesIO(data), "photo.jpg")})


def post_body(client, data: bytes, query: str = ""):
    return client.post(SCORE + query, data=data, content_type="image/jpeg")


def pasted_portrait(canvas_size: tuple[int, int], scale: float, at: tuple[int, int]) -> tuple[bytes, tuple[float, float]]:
    """The portrait scaled and pasted on a plain canvas, and where its face centre lands."""
    canvas = Image.new("RGB", canvas_size, (118, 128, 138))
    small = portrait().resize((round(PORTRAIT_SIZE[0] * scale), round(PORTRAIT_SIZE[1] * scale)), Image.LANCZOS)
    canvas.paste(small, at)
    centre = (at[0] + PORTRAIT_FACE_CENTRE[0] * scale, at[1] + PORTRAIT_FACE_CENTRE[1] * scale)
    return encode(canvas, "JPEG", quality=92), centre


@pytest.mark.parametrize("send", [post_multipart, post_body], ids=["multipart", "raw body"])
@pytest.mark.parametrize(
    ("image", "faces"),
    [
        (PORTRAIT, "one"),
        (FIXTURES / "photos" / "landscape_china.jpg", "none"),
        (FIXTURES / "photos" / "logo_matplotlib.png", "none"),
        (FACE_IMAGES[0], "some"),
        (FACE_IMAGES[-1], "some"),
    ],
    ids=["portrait", "landscape", "logo", "first face fixture", "last face fixture"],
)
def test_score_answers_the_documented_shape(client, classifier, send, image, faces):
    response = send(client, image.read_bytes())
    body = response.get_json()
    assert response.status_code == 200, body
    schema_validator("Score").validate(body)
    with Image.open(image) as img:
        assert body["image"] == {"width": img.width, "height": img.height}
    assert body["model"] == {"name": classifier.name, "version": classifier.version}
    if faces == "none":
        assert (body["verdict"], body["score"], body["faces"]) == ("no_face", None, [])
        return
    assert len(body["faces"]) == 1 if faces == "one" else len(body["faces"]) >= 1
    for face in body["faces"]:
        assert face["verdict"] == classifier.verdict(face["score"], face["greyscale"])
        x, y, w, h = face["box"]
        assert x >= 0 and y >= 0 and x + w <= img.width + 0.1 and y + h <= img.height + 0.1
    worst = max(body["faces"], key=lambda f: f["score"])
    assert (body["verdict"], body["score"]) == (worst["verdict"], worst["score"])
    if image == PORTRAIT:
        assert box_contains(body["faces"][0]["box"], PORTRAIT_FACE_CENTRE)


@pytest.mark.parametrize(("mode", "greyscale"), [("RGB", False), ("L", True)], ids=["colour", "black-and-white"])
def test_each_face_says_whether_it_is_black_and_white(client, classifier, mode, greyscale):
    body = post_body(client, encode(portrait().convert(mode), "JPEG", quality=90)).get_json()
    [face] = body["faces"]
    assert face["greyscale"] is greyscale
    assert face["verdict"] == classifier.verdict(face["score"], greyscale)


@pytest.mark.parametrize(
    ("canvas", "scale", "at"),
    [((4000, 3000), 1.0, (2900, 300)), ((4000, 3000), 0.4, (600, 2500)), ((1600, 1200), 0.5, (80, 700))],
    ids=["12 MP, big face", "12 MP, 80 px face", "2 MP, small face in a corner"],
)
def test_faces_in_large_photos_are_found_and_boxed_in_original_pixels(client, classifier, canvas, scale, at):
    data, centre = pasted_portrait(canvas, scale, at)
    body = post_body(client, data).get_json()
    assert body["image"] == {"width": canvas[0], "height": canvas[1]}
    assert len(body["faces"]) == 1, body["faces"]
    box = body["faces"][0]["box"]
    assert box_contains(box, centre)
    assert 0.6 * 199 * scale < box[2] < 1.4 * 199 * scale  # the face is ~199 px wide in the portrait
    # the crop and the model are the shared module's: the same image scored directly gives the same answer
    direct = classifier.score_image(load_image(data), full_resolution=True)
    assert body["faces"][0]["box"] == [round(v, 1) for v in direct.faces[0].box]
    assert body["faces"][0]["score"] == pytest.approx(direct.faces[0].score, abs=1e-5)


@pytest.mark.parametrize(
    ("orientation", "stored"),
    [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270), (3, Image.Transpose.ROTATE_180)],
    ids=["rotated right", "rotated left", "upside down"],
)
def test_exif_orientation_is_applied_before_detection(client, orientation, stored):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(portrait().transpose(stored), "JPEG", quality=92, exif=exif.tobytes())
    body = post_multipart(client, data).get_json()
    assert body["image"] == {"width": PORTRAIT_SIZE[0], "height": PORTRAIT_SIZE[1]}
    assert box_contains(body["faces"][0]["box"], PORTRAIT_FACE_CENTRE)


@pytest.mark.parametrize(("query", "heatmaps"), [("?explain=1", True), ("?explain=true", True), ("?explain=0", False), ("", False)])
def test_explain_adds_a_heatmap_png_per_face(client, classifier, query, heatmaps):
    crowd = Image.new("RGB", (1100, 620), "white")
    crowd.paste(portrait(), (0, 0))
    crowd.paste(portrait(), (560, 10))
    body = post_body(client, encode(crowd, "JPEG", quality=92), query).get_json()
    assert len(body["faces"]) == 2
    for face in body["faces"]:
        assert ("heatmap" in face) == heatmaps
        if heatmaps:
            prefix = "data:image/png;base64,"
            assert face["heatmap"].startswith(prefix)
            png = Image.open(io.BytesIO(base64.b64decode(face["heatmap"][len(prefix):])))
            assert (png.format, png.mode, png.size) == ("PNG", "RGB", (classifier.input_size, classifier.input_size))


def test_model_describes_the_loaded_model(client, app):
    body = client.get("/api/v1/model").get_json()
    on_disk = json.loads((Path(app.config["MODEL_DIR"]) / "config.json").read_text())
    schema_validator("Model").validate(body)
    for key in ("name", "version", "threshold", "uncertain_band", "greyscale", "input_size", "margin"):
        assert body[key] == on_disk[key]
    assert "train_config" not in body


def test_the_model_schema_lists_exactly_the_fields_the_server_sends():
    schema = json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]["Model"]
    assert set(schema["properties"]) == set(MODEL_FIELDS) <= {f.name for f in fields(ModelConfig)}


def test_health_names_the_model(client, classifier):
    assert client.get("/api/v1/health").get_json() == {
        "status": "ok",
        "model": {"name": classifier.name, "version": classifier.version},
    }


def test_openapi_document_lists_every_api_route(client, app):
    served = client.get("/api/v1/openapi.json").get_json()
    assert served == OPENAPI
    jsonschema.Draft202012Validator.check_schema(OPENAPI["components"]["schemas"]["Score"])
    routes = {
        (rule.rule, method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in OPENAPI["paths"].items() for method in item}
    assert documented == routes


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic s3cret-token", 401),
        ("Bearer", 401),
        ("Bearer s3cret-token", 200),
        ("bearer s3cret-token", 200),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/model", "/api/v1/openapi.json"])
def test_api_token_is_required_when_set(make_app, authorization, status, path):
    client = make_app(API_TOKEN="s3cret-token").test_client()
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get(path, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.get_json() == {"error": "Send the API token as 'Authorization: Bearer <token>'."}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_token_guards_scoring_but_not_the_page(make_app):
    client = make_app(API_TOKEN="s3cret-token").test_client()
    assert post_body(client, PORTRAIT.read_bytes()).status_code == 401
    assert client.get("/").status_code == 200
    scored = client.post(SCORE, data=PORTRAIT.read_bytes(), headers={"Authorization": "Bearer s3cret-token"})
    assert scored.status_code == 200


@pytest.mark.parametrize(
    ("setting", "origin", "allowed"),
    [
        ("chrome-extension://*", EXTENSION_ORIGIN, True),
        ("chrome-extension://*", "https://evil.example", False),
        ("chrome-extension://*", "chrome-extension://abc.evil.example", False),
        ("chrome-extension://*", "http://chrome-extension://abc", False),
        ("https://newsroom.example, http://localhost:*", "https://newsroom.example", True),
        ("https://newsroom.example, http://localhost:*", "http://localhost:5173", True),
        ("https://newsroom.example, http://localhost:*", "https://newsroom.example.evil.com", False),
        ("https://newsroom.example, http://localhost:*", EXTENSION_ORIGIN, False),
        ("", EXTENSION_ORIGIN, False),
    ],
)
def test_cors_allows_only_the_configured_origins(make_app, setting, origin, allowed):
    client = make_app(CORS_ORIGINS=setting, API_TOKEN="s3cret-token").test_client()
    # a preflight carries no token, and must not need one
    preflight = client.options(
        SCORE,
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code == 200
    assert (preflight.headers.get("Access-Control-Allow-Origin") == origin) is allowed
    if allowed:
        assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    actual = client.get("/api/v1/health", headers={"Origin": origin, "Authorization": "Bearer s3cret-token"})
    assert (actual.headers.get("Access-Control-Allow-Origin") == origin) is allowed


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("get", "/api/v1/nothing-here", 404, "/api/v1/openapi.json"),
        ("get", "/favicon.ico", 404, "Nothing is served at this address"),
        ("get", SCORE, 405, "Use POST"),
        ("post", "/api/v1/health", 405, "Use GET"),
        ("delete", "/api/v1/model", 405, "Use GET"),
    ],
)
def test_routing_errors_are_json(client, method, path, status, message):
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert message in response.get_json()["error"]


def test_unexpected_failures_are_json_500s_and_logged(make_app, monkeypatch, caplog):
    client = make_app().test_client()
    from scoring.classifier import Classifier

    def broken(self, rgb, full_resolution=False):
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(Classifier, "score_image", broken)
    with caplog.at_level(logging.INFO, logger="backend"):
        response = post_body(client, PORTRAIT.read_bytes())
    assert response.status_code == 500
    assert response.get_json() == {"error": "The server failed on this request; the error is in its log."}
    assert "detector exploded" in caplog.text


def test_uploads_stay_in_memory(client, monkeypatch):
    # werkzeug spools an upload over 500 KB to a temporary file unless the app keeps it in memory
    opened = []
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        real = getattr(tempfile, name)
        monkeypatch.setattr(tempfile, name, lambda *a, _real=real, _name=name, **k: opened.append(_name) or _real(*a, **k))
    big = encode(portrait().resize((2400, 2812), Image.BICUBIC), "JPEG", quality=95)
    assert len(big) > 1_000_000
    response = post_multipart(client, big)
    assert response.status_code == 200
    assert opened == []


def test_one_log_line_per_request_without_query_or_body(client, caplog):
    with caplog.at_level(logging.INFO, logger="backend"):
        post_multipart(client, PORTRAIT.read_bytes(), "?explain=0&note=private-note")
        client.get("/api/v1/health?probe=private-probe")
    lines = [r.getMessage() for r in caplog.records if r.name == "backend.access"]
    assert len(lines) == 2
    assert re.fullmatch(r"POST /api/v1/score 200 \d+ms", lines[0])
    assert re.fullmatch(r"GET /api/v1/health 200 \d+ms", lines[1])
    assert "private-" not in caplog.text and "photo.jpg" not in caplog.text


def test_upload_page_needs_nothing_but_this_server(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "default-src 'none'" in csp
    html = page.get_data(as_text=True)
    assets = [url for url in re.findall(r'(?:src|href)="([^"]+)"', html) if not url.startswith("data:")]
    assert sorted(assets) == ["static/app.js", "static/style.css"]
    for asset in assets + ["static/video.js"]:  # app.js imports video.js
        served = client.get("/" + asset)
        assert served.status_code == 200
        # the SVG namespace names a vocabulary and is never fetched
        text = served.get_data(as_text=True).replace("'http://www.w3.org/2000/svg'", "")
        # no other host: every URL the page uses is relative to this server
        assert not re.search(r"https?://", text), asset
    assert "api/v1/score?explain=1" in client.get("/static/app.js").get_data(as_text=True)


@pytest.mark.parametrize(
    ("environ", "key", "value"),
    [
        ({}, "HOST", "127.0.0.1"),
        ({}, "ALLOW_PRIVATE_URLS", False),
        ({}, "API_TOKEN", ""),
        ({"DFD_PORT": "9000"}, "PORT", 9000),
        ({"DFD_ALLOW_PRIVATE_URLS": "1"}, "ALLOW_PRIVATE_URLS", True),
        ({"DFD_MAX_UPLOAD_MB": "2.5"}, "MAX_UPLOAD_MB", 2.5),
        ({"DFD_CORS_ORIGINS": "https://a.example"}, "CORS_ORIGINS", "https://a.example"),
    ],
)
def test_settings_come_from_the_environment(environ, key, value):
    assert from_env(environ)[key] == value


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DFD_PORT": "eighty"}, "DFD_PORT='eighty' is not valid"),
        ({"DFD_WORKERS": "0"}, "DFD_WORKERS='0' is not valid"),
        ({"DFD_ALLOW_PRIVATE_URLS": "maybe"}, "DFD_ALLOW_PRIVATE_URLS='maybe' is not valid: use 1 or 0."),
        ({"DFD_FETCH_TIMEOUT_S": "-1"}, "DFD_FETCH_TIMEOUT_S='-1' is not valid"),
    ],
)
def test_bad_settings_stop_the_server_with_the_variable_named(environ, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        from_env(environ)


def test_upload_limit_setting_becomes_flask_limit(make_app):
    assert make_app(MAX_UPLOAD_MB=3).config["MAX_CONTENT_LENGTH"] == 3_000_000


def test_the_server_docs_list_every_setting():
    docs = (REPO / "docs" / "server.md").read_text()
    section = docs.split("## Settings", 1)[1].split("\n## ", 1)[0]
    for setting in SETTINGS:
        assert f"`{setting.env}`" in section, setting.env


def test_importing_the_backend_leaves_tensorflow_unloaded():
    # gunicorn's master imports the config before forking; TensorFlow must only start in the workers
    code = "import sys, backend, backend.config, backend.api; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
