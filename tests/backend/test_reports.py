"""Reports of wrong verdicts: storing, listing with the token, limits, bad input, and the export for evaluation."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness.servers import PORTRAIT, REPO, encode, portrait
from test_api import schema_validator

from backend.db import database_url
from backend.reports import main as reports_main
from training.evaluate import list_images

REPORTS = "/api/v1/reports"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
IMAGE = PORTRAIT.read_bytes()
IMAGE_SHA = hashlib.sha256(IMAGE).hexdigest()
DATA_URL = "data:image/jpeg;base64," + base64.b64encode(IMAGE).decode()
SHOWN = {"verdict": "fake", "score": 0.91, "model_version": "1.4.0", "url": "https://news.example/p.jpg"}


@pytest.fixture
def make(make_app, tmp_path):
    """Apps on a fresh database of this test's own."""
    db = str(tmp_path / "reports.sqlite3")
    return lambda **settings: make_app(REPORTS_DB=db, **settings)


def listed(app) -> list[dict]:
    return app.test_client().get(REPORTS + "?limit=500", headers=AUTH).get_json()["reports"]


def send_json(client, body, **kw):
    return client.post(REPORTS, json=body, **kw)


def send_multipart(client, body, **kw):
    form = {k: ("" if v is None else str(v)) for k, v in body.items() if k != "image"}
    if "image" in body:
        form["image"] = (io.BytesIO(IMAGE), "photo.jpg")
    return client.post(REPORTS, data=form, **kw)


@pytest.mark.parametrize(
    ("send", "body", "has_image"),
    [
        (send_json, {**SHOWN, "label": "real", "sha256": IMAGE_SHA, "note": "my own photo"}, False),
        (send_json, {**SHOWN, "label": "real", "image": DATA_URL}, True),
        (send_json, {**SHOWN, "label": "real", "sha256": IMAGE_SHA.upper(), "image": DATA_URL}, True),
        (send_json, {"verdict": "no_face", "score": None, "label": "other", "sha256": IMAGE_SHA}, False),
        (send_multipart, {**SHOWN, "label": "fake", "sha256": IMAGE_SHA}, False),
        (send_multipart, {**SHOWN, "label": "no_face", "image": True}, True),
    ],
    ids=["json, hash only", "json, data URL", "json, data URL and its hash", "json, no face, no score",
         "multipart, hash only", "multipart, image file"],
)
def test_a_report_is_kept_and_listed_with_the_token(make, send, body, has_image):
    app = make(API_TOKEN=TOKEN)
    response = send(app.test_client(), body, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    schema_validator("Report").validate(created)
    assert (created["sha256"], created["has_image"], created["label"]) == (IMAGE_SHA, has_image, body["label"])
    [stored] = listed(app)
    assert stored == created
    expected_score = body.get("score") if send is send_json else float(body["score"]) if body.get("score") else None
    assert (stored["verdict"], stored["score"], stored["note"]) == (body["verdict"], expected_score, body.get("note", ""))


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**SHOWN, "sha256": IMAGE_SHA}, 400, "Set label to one of real, fake, no_face, other."),
        ({**SHOWN, "label": "deepfake", "sha256": IMAGE_SHA}, 400, "Set label to one of"),
        ({**SHOWN, "verdict": "maybe", "label": "real", "sha256": IMAGE_SHA}, 400, "Set verdict to one of"),
        ({**SHOWN, "score": 1.5, "label": "real", "sha256": IMAGE_SHA}, 400, "score as a number between 0 and 1"),
        ({**SHOWN, "score": "high", "label": "real", "sha256": IMAGE_SHA}, 400, "score as a number between 0 and 1"),
        ({**SHOWN, "label": "real"}, 400, "Send the sha256 of the image's bytes, or the image itself."),
        ({**SHOWN, "label": "real", "sha256": "abc123"}, 400, "64 hex digits"),
        ({**SHOWN, "label": "real", "sha256": "0" * 64, "image": DATA_URL}, 422, "does not match the image sent"),
        ({**SHOWN, "label": "real", "image": "https://news.example/p.jpg"}, 400, "as a data URL"),
        ({**SHOWN, "label": "real", "image": "data:image/jpeg;base64,@@@notbase64"}, 400, "not valid base64"),
        ({**SHOWN, "label": "real", "image": "data:image/jpeg;base64," + base64.b64encode(b"%PDF-1.4 hi").decode()},
         415, "not an image we can read"),
        ({**SHOWN, "label": "real", "image": "data:image/jpeg;base64," + base64.b64encode(IMAGE[:2000]).decode()},
         422, ""),
        ({**SHOWN, "label": "real", "sha256": IMAGE_SHA, "note": "x" * 2001}, 400, "The note is over 2000 characters"),
        ({**SHOWN, "label": "real", "sha256": IMAGE_SHA, "url": "javascript:alert(1)"}, 400, "http(s) address"),
        ({**SHOWN, "label": "real", "sha256": IMAGE_SHA, "url": "https://a.example/" + "x" * 2048}, 400, "over 2048"),
        ({**SHOWN, "label": "real", "sha256": IMAGE_SHA, "user": "bob"}, 400, "Unknown field 'user'"),
        (["real"], 400, "Send the report as a JSON object"),
    ],
    ids=["no label", "unknown label", "unknown verdict", "score over 1", "score not a number", "no hash, no image",
         "short hash", "hash of other bytes", "image as a URL", "broken base64", "a PDF", "truncated JPEG",
         "long note", "javascript: url", "long url", "unknown field", "JSON array"],
)
def test_bad_reports_get_a_json_error_and_are_not_kept(make, body, status, message):
    app = make(API_TOKEN=TOKEN)
    response = send_json(app.test_client(), body, headers=AUTH)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert listed(app) == []


@pytest.mark.parametrize(
    ("send", "status", "message"),
    [
        (lambda c: c.post(REPORTS, data=b"label=real", content_type="text/plain"), 415, "JSON or as multipart"),
        (lambda c: c.post(REPORTS, data="{not json", content_type="application/json"), 400, "JSON object"),
        (lambda c: send_json(c, {**SHOWN, "label": "real", "image": DATA_URL}), 413, "over the 0.01 MB limit"),
    ],
    ids=["plain text", "broken JSON", "image over the report limit"],
)
def test_reports_in_the_wrong_shape_or_size_are_refused(make, send, status, message):
    app = make(REPORT_IMAGE_MAX_MB=0.01)  # the portrait is 40+ kB
    response = send(app.test_client())
    assert response.status_code == status
    assert message in response.get_json()["error"]


@pytest.mark.parametrize(
    ("token", "headers", "status", "message"),
    [
        ("", AUTH, 403, "Listing reports is off on a server without an API token; set DFD_API_TOKEN"),
        (TOKEN, {}, 401, "Send the API token"),
        (TOKEN, {"Authorization": "Bearer wrong"}, 401, "Send the API token"),
        (TOKEN, AUTH, 200, None),
    ],
    ids=["no token configured", "no token sent", "wrong token", "token"],
)
def test_listing_always_needs_the_token(make, token, headers, status, message):
    client = make(API_TOKEN=token).test_client()
    response = client.get(REPORTS, headers=headers)
    assert response.status_code == status
    if message:
        assert message in response.get_json()["error"]
    else:
        schema_validator("ReportList").validate(response.get_json())


def test_reports_need_the_token_when_the_server_has_one(make):
    client = make(API_TOKEN=TOKEN).test_client()
    assert send_json(client, {**SHOWN, "label": "real", "sha256": IMAGE_SHA}).status_code == 401
    # without a token on the server anyone may report, but nobody may list
    open_client = make().test_client()
    assert send_json(open_client, {**SHOWN, "label": "real", "sha256": IMAGE_SHA}).status_code == 201


def test_listing_pages_newest_first(make):
    app = make(API_TOKEN=TOKEN)
    client = app.test_client()
    for label in ("real", "fake", "other"):
        send_json(client, {**SHOWN, "label": label, "sha256": IMAGE_SHA}, headers=AUTH)
    first = client.get(REPORTS + "?limit=2", headers=AUTH).get_json()
    assert [r["label"] for r in first["reports"]] == ["other", "fake"]
    rest = client.get(f"{REPORTS}?limit=2&before={first['next_before']}", headers=AUTH).get_json()
    assert ([r["label"] for r in rest["reports"]], rest["next_before"]) == (["real"], None)
    assert client.get(REPORTS + "?limit=0", headers=AUTH).status_code == 400
    assert client.get(REPORTS + "?before=x", headers=AUTH).status_code == 400


def test_reports_are_rate_limited_per_client_address(make):
    client = make(REPORTS_RATE_LIMIT="3 per minute").test_client()
    body = {**SHOWN, "label": "real", "sha256": IMAGE_SHA}
    statuses = [send_json(client, body).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = send_json(client, body)
    assert "Too many requests from this address (3 per 1 minute)" in refused.get_json()["error"]
    assert "Retry-After" in refused.headers
    other = send_json(client, body, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 201


def test_a_report_never_makes_the_server_fetch_its_url(make, lab_server):
    client = make(ALLOW_PRIVATE_URLS=True).test_client()
    url = lab_server.base + "/portrait.jpg"
    assert send_json(client, {**SHOWN, "url": url, "label": "real", "sha256": IMAGE_SHA}).status_code == 201
    assert lab_server.hosts_seen == []


def test_servers_sharing_one_database_url_see_each_others_reports(make_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first, second = make_app(REPORTS_DB=url, API_TOKEN=TOKEN), make_app(REPORTS_DB=url, API_TOKEN=TOKEN)
    send_json(first.test_client(), {**SHOWN, "label": "fake", "sha256": IMAGE_SHA}, headers=AUTH)
    assert [r["label"] for r in listed(second)] == ["fake"]


@pytest.mark.parametrize(
    ("setting", "url"),
    [
        ("", "sqlite:////srv/dfd/instance/reports.sqlite3"),
        ("/data/reports.db", "sqlite:////data/reports.db"),
        ("postgresql+psycopg://dfd:pw@db.internal/dfd", "postgresql+psycopg://dfd:pw@db.internal/dfd"),
        ("sqlite:////tmp/r.sqlite3", "sqlite:////tmp/r.sqlite3"),
    ],
    ids=["default file", "file path", "PostgreSQL URL", "SQLite URL"],
)
def test_reports_db_setting_takes_a_path_or_a_url(setting, url):
    assert database_url(setting, "/srv/dfd/instance") == url


def test_a_database_sqlalchemy_cannot_open_stops_the_server_with_the_setting_named(make_app):
    with pytest.raises(ValueError, match="DFD_REPORTS_DB='nosuchdb://x' is not a database SQLAlchemy can open"):
        make_app(REPORTS_DB="nosuchdb://x")


def test_export_writes_real_and_fake_folders_that_evaluation_reads(make, tmp_path):
    app = make()
    client = app.test_client()
    png = encode(portrait().resize((256, 300)), "PNG")
    png_url = "data:image/png;base64," + base64.b64encode(png).decode()
    sent = [
        {**SHOWN, "label": "real", "image": DATA_URL},  # kept: real/
        {**SHOWN, "label": "fake", "image": png_url},  # kept: fake/, as PNG
        {**SHOWN, "label": "real", "image": DATA_URL},  # the same image and label again: once
        {**SHOWN, "label": "real", "sha256": "a" * 64},  # no image: left out
        {**SHOWN, "label": "other", "image": DATA_URL},  # neither real nor fake: left out
    ]
    for body in sent:
        assert send_json(client, body).status_code == 201
    out = tmp_path / "export"
    db_path = app.config["REPORTS_DB"]
    assert reports_main(["export", str(out), "--db", db_path]) == 0

    real, fake = sorted((out / "real").iterdir()), sorted((out / "fake").iterdir())
    assert [p.read_bytes() for p in real] == [IMAGE] and real[0].suffix == ".jpg"
    assert [p.read_bytes() for p in fake] == [png] and fake[0].suffix == ".png"
    with open(out / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["label"], r["sha256"], r["verdict"], r["url"]) for r in rows] == [
        ("real", IMAGE_SHA, "fake", SHOWN["url"]),
        ("fake", hashlib.sha256(png).hexdigest(), "fake", SHOWN["url"]),
    ]
    # the evaluator's own folder loader takes the export as it is
    items = list_images(out)
    assert sorted((Path(i["path"]).read_bytes(), i["label"]) for i in items) == sorted([(IMAGE, 0), (png, 1)])
    (out / "manifest.csv").unlink()  # the plain real/ + fake/ layout alone works too
    assert sorted(i["label"] for i in list_images(out)) == [0, 1]


def test_export_command_runs_from_the_shell_and_says_what_it_left_out(make, tmp_path):
    app = make()
    send_json(app.test_client(), {**SHOWN, "label": "fake", "image": DATA_URL})
    send_json(app.test_client(), {**SHOWN, "label": "fake", "sha256": IMAGE_SHA})
    out = tmp_path / "export"
    env_db = {"DFD_REPORTS_DB": app.config["REPORTS_DB"]}
    done = subprocess.run([sys.executable, "-m", "backend.reports", "export", str(out)], cwd=REPO,
                          env={**os.environ, **env_db}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "wrote 0 real and 1 fake images" in done.stdout and "1 reports without an image" in done.stdout
    assert f"python -m training.evaluate {out}" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "backend.reports", "export", str(out), "--db",
                              str(tmp_path / "none.sqlite3")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "No reports database at" in missing.stderr
