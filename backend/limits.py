"""Rate limits per client address (Flask-Limiter) for reports and game answers."""

from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# the client address as the server sees it: behind a proxy, all clients count as one (docs/server.md)
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def reports_limit() -> str:
    """DFD_REPORTS_RATE_LIMIT, read per request so each app (and test) has its own."""
    return current_app.config["REPORTS_RATE_LIMIT"]


def game_limit() -> str:
    """DFD_GAME_RATE_LIMIT, read per request."""
    return current_app.config["GAME_RATE_LIMIT"]


def init_app(app) -> None:
    """Count requests where DFD_RATE_LIMIT_STORAGE says; a new app starts with fresh counts in memory."""
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATE_LIMIT_STORAGE"]
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # clients see Retry-After on a 429
    limiter.init_app(app)
