"""Shared fixtures for the scoring-server tests.

The model loads once per test process (backend.model keeps it), so building
an app per configuration is cheap. Image servers for URL mode listen on
loopback only and stop at the end of the session.
"""

from __future__ import annotations

import ipaddress

import pytest
from flask.testing import FlaskClient
from harness.servers import LAB_HOST, PUBLIC_STAND_IN, ImageServer, serve

from backend import create_app, fetch


class BufferedClient(FlaskClient):
    """Reads each answer whole and closes it: a file the server sent (send_file) is not left open."""

    def open(self, *args, buffered=True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture(scope="session")
def make_app(tmp_path_factory):
    """Build an app from the factory with test settings over the defaults (reports in a temporary database)."""
    reports_db = str(tmp_path_factory.mktemp("reports") / "reports.sqlite3")

    def make(**settings):
        app = create_app({"TESTING": True, "REPORTS_DB": reports_db, **settings})
        app.test_client_class = BufferedClient
        return app

    return make


@pytest.fixture(scope="session")
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def lab_server():
    """An image server on 127.0.0.1: reachable only with private URLs allowed."""
    server = ImageServer(LAB_HOST)
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def _public_server(lab_server):
    server = ImageServer(PUBLIC_STAND_IN, lab_port=lab_server.server_address[1])
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def public_server(_public_server, monkeypatch):
    """An image server on 127.0.0.2 that the fetcher treats as a public host.

    Every other address keeps the real rule, so what this server redirects to
    is checked as in production, and no test traffic leaves the machine.
    """
    stand_in = ipaddress.ip_address(PUBLIC_STAND_IN)
    real_rule = fetch.address_allowed
    monkeypatch.setattr(fetch, "address_allowed", lambda ip, allow_private: ip == stand_in or real_rule(ip, allow_private))
    return _public_server
