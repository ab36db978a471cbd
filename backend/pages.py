"""The upload page: drop or pick an image, see its faces, verdicts and heatmaps."""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("pages", __name__)

# the page talks to this server alone; a browser blocks anything else it might try
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.get("/")
def index():
    """Serve the upload page."""
    response = current_app.send_static_file("index.html")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
