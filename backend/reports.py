"""Reports of wrong verdicts: POST and GET /api/v1/reports, and their export for evaluation.

    python -m backend.reports export DIR [--db URL]

writes the reports that carry an image to DIR/real/ and DIR/fake/ (by the
user's label) with DIR/manifest.csv, which `python -m training.evaluate DIR`
scores. A report never makes the server fetch anything: its URL is kept as text.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import hashlib
import io
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, request
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api import require_token
from backend.db import Report, create_tables, database_url, get_db, open_engine
from backend.limits import limiter, reports_limit
from scoring.faces import ImageError, NotAnImageError, load_image

bp = Blueprint("reports", __name__, url_prefix="/api/v1/reports")
bp.before_request(require_token)

LABELS = ("real", "fake", "no_face", "other")  # what the user says the image is
VERDICTS = ("fake", "real", "uncertain", "no_face", "error")  # what the extension or page showed
FIELDS = {"url", "sha256", "verdict", "score", "model_version", "label", "note", "image"}
MAX_URL_CHARS = 2048  # browsers' practical URL length; longer is not a page address
MAX_NOTE_CHARS = 2000  # a few paragraphs: enough to say what is wrong, not a place for files
MAX_VERSION_CHARS = 64
SHA256 = re.compile(r"[0-9a-f]{64}")
DATA_URL = re.compile(r"data:image/[a-z0-9.+-]+;base64,(.*)", re.IGNORECASE | re.DOTALL)
LIST_DEFAULT, LIST_MAX = 100, 500  # reports per page of GET /api/v1/reports
EXPORT_SUFFIXES = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
EXPORT_SOURCE = "user_reports"  # the manifest's source: training.evaluate reports metrics per source


def _fields() -> tuple[dict, bytes | None]:
    """The report's fields and image bytes, from JSON (image as a data URL) or a form (image as a file)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, 'Send the report as a JSON object, like {"label": "real", "verdict": "fake", ...}.')
        image = body.pop("image", None)
        if image is not None:
            match = DATA_URL.fullmatch(image) if isinstance(image, str) else None
            if not match:
                abort(400, "Send the image as a data URL: data:image/jpeg;base64,...")
            try:
                image = base64.b64decode(match.group(1), validate=True)
            except (binascii.Error, ValueError):
                abort(400, "The image data URL is not valid base64.")
        fields = body
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = request.form.to_dict()
        upload = request.files.get("image")
        image = upload.read() if upload is not None else None
        if "score" in fields:
            fields["score"] = None if fields["score"] in ("", "null") else _number(fields["score"])
    else:
        abort(415, "Send the report as JSON or as multipart/form-data.")
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        abort(400, f"Unknown field {unknown[0]!r}; a report has {', '.join(sorted(FIELDS))}.")
    return fields, image


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        abort(400, "Send score as a number between 0 and 1, or leave it out.")


def _text(fields: dict, key: str, limit: int) -> str:
    value = fields.get(key) or ""
    if not isinstance(value, str):
        abort(400, f"Send {key} as text.")
    if len(value) > limit:
        abort(400, f"The {key} is over {limit} characters; shorten it.")
    return value.strip()


def _choice(fields: dict, key: str, allowed: tuple) -> str:
    value = fields.get(key)
    if value not in allowed:
        abort(400, f"Set {key} to one of {', '.join(allowed)}.")
    return value


def _image_checked(image: bytes) -> str:
    """Scoring's rules for the image; returns Pillow's format name."""
    limit_mb = current_app.config["REPORT_IMAGE_MAX_MB"]
    if len(image) > limit_mb * 1_000_000:
        abort(413, f"The report's image is over the {limit_mb:g} MB limit; send the report without it.")
    try:
        load_image(image)
    except NotAnImageError as e:
        abort(415, str(e))
    except ImageError as e:
        abort(422, str(e))
    with Image.open(io.BytesIO(image)) as img:
        return img.format


def validated_report(fields: dict, image: bytes | None) -> Report:
    """A Report from the request's fields, or a 4xx that says what to fix."""
    label = _choice(fields, "label", LABELS)
    verdict = _choice(fields, "verdict", VERDICTS)
    score = fields.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1):
        abort(400, "Send score as a number between 0 and 1, or leave it out.")
    url = _text(fields, "url", MAX_URL_CHARS) or None
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        abort(400, "Send url as the image's http(s) address, or leave it out (data: and blob: images have none).")
    sha256 = _text(fields, "sha256", 128).lower()
    if sha256 and not SHA256.fullmatch(sha256):
        abort(400, "Send sha256 as the 64 hex digits of the SHA-256 of the image's bytes.")
    image_format = None
    if image is not None:
        image_format = _image_checked(image)
        actual = hashlib.sha256(image).hexdigest()
        if sha256 and sha256 != actual:
            # well-formed, but the bytes say otherwise: a content error (422), as an undecodable image is
            abort(422, "The sha256 does not match the image sent; hash the same bytes you send.")
        sha256 = actual
    if not sha256:
        abort(400, "Send the sha256 of the image's bytes, or the image itself.")
    return Report(
        url=url, sha256=sha256, verdict=verdict, score=None if score is None else float(score),
        model_version=_text(fields, "model_version", MAX_VERSION_CHARS), label=label,
        note=_text(fields, "note", MAX_NOTE_CHARS), image=image, image_format=image_format,
    )


def report_json(report: Report) -> dict:
    return {
        "id": report.id,
        "created_at": report.created_at.isoformat(timespec="seconds") + "Z",
        "url": report.url,
        "sha256": report.sha256,
        "verdict": report.verdict,
        "score": report.score,
        "model_version": report.model_version,
        "label": report.label,
        "note": report.note,
        "has_image": report.image is not None,
    }


@bp.post("")
@limiter.limit(reports_limit, methods=["POST"])
def create():
    """Keep a user's report that a verdict is wrong (the image only when they chose to send it)."""
    report = validated_report(*_fields())
    db = get_db()
    db.add(report)
    db.commit()
    return jsonify(report_json(report)), 201


def _int_arg(name: str, default, low: int, high: int):
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        abort(400, f"Set {name} to a whole number from {low} to {high}.")
    return value


@bp.get("")
def listing():
    """List reports, newest first; always needs the API token, so it is off on servers without one."""
    if not current_app.config["API_TOKEN"]:
        abort(403, "Listing reports is off on a server without an API token; set DFD_API_TOKEN to turn it on.")
    limit = _int_arg("limit", LIST_DEFAULT, 1, LIST_MAX)
    before = _int_arg("before", None, 1, 2**62)
    query = select(Report).order_by(Report.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Report.id < before)
    reports = get_db().scalars(query).all()
    more = len(reports) == limit
    return jsonify(reports=[report_json(r) for r in reports], next_before=reports[-1].id if more else None)


def export(engine, out: Path) -> dict:
    """Write reports with images labelled real or fake to out/real, out/fake and out/manifest.csv."""
    counts = {"real": 0, "fake": 0, "duplicates": 0, "without_image": 0, "other_labels": 0}
    rows, seen = [], set()
    for label in ("real", "fake"):
        (out / label).mkdir(parents=True, exist_ok=True)
    with Session(engine) as db:
        for report in db.scalars(select(Report).order_by(Report.id)):
            if report.label not in ("real", "fake"):
                counts["other_labels"] += 1
                continue
            if report.image is None:
                counts["without_image"] += 1
                continue
            if (report.sha256, report.label) in seen:
                # the same image reported twice would count twice in the metrics
                counts["duplicates"] += 1
                continue
            seen.add((report.sha256, report.label))
            path = Path(report.label) / (report.sha256[:20] + EXPORT_SUFFIXES.get(report.image_format, ".jpg"))
            (out / path).write_bytes(report.image)
            counts[report.label] += 1
            rows.append({
                "path": path.as_posix(), "label": report.label, "source": EXPORT_SOURCE, "split": "test",
                "report_id": report.id, "created_at": report.created_at.isoformat(timespec="seconds") + "Z",
                "sha256": report.sha256, "url": report.url or "", "verdict": report.verdict,
                "score": "" if report.score is None else report.score, "model_version": report.model_version,
                "note": report.note,
            })
    with open(out / "manifest.csv", "w", newline="") as f:
        columns = ["path", "label", "source", "split", "report_id", "created_at", "sha256", "url", "verdict",
                   "score", "model_version", "note"]
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return counts


def main(argv=None) -> int:
    from backend.config import from_env

    instance = Path(__file__).resolve().parent.parent / "instance"  # where the app keeps its default database
    parser = argparse.ArgumentParser(prog="python -m backend.reports", description="Work with users' reports.")
    commands = parser.add_subparsers(dest="command", required=True)
    exporter = commands.add_parser("export", help="write reported images as DIR/real, DIR/fake and DIR/manifest.csv")
    exporter.add_argument("dir", type=Path, help="folder to write (made if missing)")
    exporter.add_argument("--db", default=None,
                          help="database file or URL (default: DFD_REPORTS_DB, else instance/reports.sqlite3)")
    args = parser.parse_args(argv)
    setting = args.db if args.db is not None else from_env()["REPORTS_DB"]
    url = database_url(setting, instance)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        print(f"No reports database at {url.removeprefix('sqlite:///')}; pass --db or set DFD_REPORTS_DB.",
              file=sys.stderr)
        return 2
    engine = open_engine(url)
    create_tables(engine)
    counts = export(engine, args.dir)
    print(
        f"wrote {counts['real']} real and {counts['fake']} fake images to {args.dir} with manifest.csv "
        f"(left out: {counts['without_image']} reports without an image, {counts['other_labels']} labelled "
        f"no_face or other, {counts['duplicates']} repeats of the same image and label)."
    )
    print(f"score the model on them: python -m training.evaluate {args.dir} --out {args.dir / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
