"""The scoring server: a Flask app that scores face images with the shipped model.

Development: `python -m backend --host H --port P`.
Production: `gunicorn -c backend/gunicorn.conf.py` (see the README).
"""

from __future__ import annotations

import io
import logging
import re
import time

from flask import Flask, g, request
from flask.wrappers import Request
from flask_cors import CORS

from backend.config import from_env

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(message)s"
CORS_MAX_AGE_S = 600  # browsers cache a preflight this long instead of asking per request


class InMemoryRequest(Request):
    """A request whose uploads stay in memory, so no image touches the disk."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        # werkzeug spools uploads over 500 KB to a temporary file; MAX_CONTENT_LENGTH bounds memory instead
        return io.BytesIO()


def cors_origins(setting: str) -> list:
    """DFD_CORS_ORIGINS as flask-cors patterns; `*` inside an entry matches one name, id or port."""
    origins = []
    for entry in (part.strip().rstrip("/") for part in setting.split(",")):
        if entry == "*":
            origins.append("*")
        elif "*" in entry:
            pieces = (re.escape(piece) for piece in entry.split("*"))
            origins.append(re.compile("^" + "[a-z0-9-]+".join(pieces) + "$", re.IGNORECASE))
        elif entry:
            origins.append(entry)
    return origins


def _log_requests(app: Flask) -> None:
    """One log line per request: method, path (never the query), status, milliseconds."""
    app.logger.setLevel(logging.INFO)
    for handler in app.logger.handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    access = app.logger.getChild("access")

    @app.before_request
    def start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access.info("%s %s %d %.0fms", request.method, request.path, response.status_code, ms)
        return response


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, model (once per process), reports database, limits, CORS, API, pages, errors."""
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = InMemoryRequest
    if test_config is None:
        app.config.from_mapping(from_env())
        # the instance config, if it exists, when not testing
        app.config.from_pyfile("config.py", silent=True)
    else:
        # tests start from the defaults, whatever the environment says
        app.config.from_mapping(from_env({}))
        app.config.from_mapping(test_config)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_MB"] * 1_000_000)

    _log_requests(app)
    origins = cors_origins(app.config["CORS_ORIGINS"])
    if origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": origins}},
            allow_headers=["Authorization", "Content-Type"],
            methods=["GET", "POST", "OPTIONS"],
            max_age=CORS_MAX_AGE_S,
            always_send=False,
        )

    from backend import api, db, errors, game, limits, model, pages, provenance, reports

    # a trust list that cannot be read stops the server at start, not at the first signed upload
    provenance.trust_anchors(app.config["C2PA_TRUST_ANCHORS"])
    model.init_app(app)
    db.init_app(app)
    limits.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(game.bp)
    return app
