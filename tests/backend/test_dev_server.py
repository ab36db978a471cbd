"""`python -m backend --host H --port P`: the development server, run for real."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from harness.servers import ACCESS_LINE, PORTRAIT, PORTRAIT_FACE_CENTRE, REPO, box_contains, free_port, running_server


pytestmark = pytest.mark.slow  # starts the server in its own processes, each loading the model


def test_dev_server_scores_on_the_host_and_port_given(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port)]
    # the flags win over the environment
    settings = {"DFD_HOST": "127.0.0.2", "DFD_PORT": str(free_port())}
    log_path = tmp_path / "server.log"
    with running_server(command, settings, log_path, base, processes=1):
        scored = requests.post(f"{base}/api/v1/score?explain=1", data=PORTRAIT.read_bytes(), timeout=120)
        assert scored.status_code == 200
        face = scored.json()["faces"][0]
        assert box_contains(face["box"], PORTRAIT_FACE_CENTRE) and face["heatmap"].startswith("data:image/png")
        assert requests.get(base + "/", timeout=30).status_code == 200
    log = log_path.read_text()
    # our one line per request, and not werkzeug's, which would carry the query string
    assert ("POST", "/api/v1/score", "200") in ACCESS_LINE.findall(log)
    assert "explain=1" not in log and "HTTP/1.1" not in log


def test_dev_server_documents_its_flags():
    out = subprocess.run([sys.executable, "-m", "backend", "--help"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "--host" in out.stdout and "--port" in out.stdout and "DFD_PORT" in out.stdout
