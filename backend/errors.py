"""JSON errors for every failure: one sentence that says what to do next."""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError


def _message(e: HTTPException) -> str:
    """The view's own message, or one written here for werkzeug's defaults."""
    if e.code == 429:
        # Flask-Limiter's description is the limit itself, e.g. "10 per 1 minute"
        return f"Too many requests from this address ({e.description}); wait a while and try again."
    if e.description and e.description != type(e).description:
        return e.description
    if e.code == 404:
        return "Nothing is served at this address; the API is described at /api/v1/openapi.json."
    if e.code == 405:
        allowed = " or ".join(m for m in sorted(e.valid_methods or ()) if m not in ("HEAD", "OPTIONS"))
        return f"Use {allowed or 'another method'} for this address."
    if e.code == 413:
        return f"The upload is over the {current_app.config['MAX_UPLOAD_MB']:g} MB limit; send a smaller image."
    return f"{e.name}."


def json_http_error(e: HTTPException):
    response = jsonify(error=_message(e))
    response.status_code = e.code or 500
    if e.code == 405 and e.valid_methods:
        response.headers["Allow"] = ", ".join(e.valid_methods)
    return response


def json_unexpected_error(e: Exception):
    if isinstance(e, HTTPException):
        return json_http_error(e)
    # the traceback names the code that failed; the request body is never logged
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return json_http_error(InternalServerError("The server failed on this request; the error is in its log."))


def init_app(app) -> None:
    """Answer every error, the unexpected included, as JSON."""
    app.register_error_handler(HTTPException, json_http_error)
    app.register_error_handler(Exception, json_unexpected_error)
