"""Loopback servers for the scoring-server tests and benchmarks: the backend
itself as a process (running_server) and an image server for URL mode, with
the images they serve.

A module with its own name rather than conftest imports, so the test files
can use these at collection time (parametrize tables).
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from PIL import Image

from harness import FIXTURES, REPO

PORTRAIT = FIXTURES / "photos" / "portrait_grace_hopper.jpg"
PORTRAIT_SIZE = (512, 600)  # width, height
PORTRAIT_FACE_CENTRE = (268, 237)  # x, y: the middle of Grace Hopper's face
LAB_HOST = "127.0.0.1"  # the URL-mode server a lab install may reach with private URLs allowed
PUBLIC_STAND_IN = "127.0.0.2"  # a loopback address the tests treat as a public host


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def portrait() -> Image.Image:
    return Image.open(PORTRAIT).convert("RGB")


def box_contains(box, point) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ImageHandler(BaseHTTPRequestHandler):
    """Answers the URL-mode cases: an image, a web page, redirects, slow and big bodies."""

    def log_message(self, *args):
        pass  # keep test output to the failures

    def _send(self, status: int, body: bytes = b"", content_type: str = "image/jpeg", length: bool = True):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher stopped reading on purpose

    def _redirect(self, location: str):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.server.hosts_seen.append(self.headers.get("Host"))
        image = PORTRAIT.read_bytes()
        lab = self.server.lab_port
        routes = {
            "/portrait.jpg": lambda: self._send(200, image),
            "/octet": lambda: self._send(200, image, "application/octet-stream"),
            "/page.html": lambda: self._send(200, b"<html><body>not an image</body></html>", "text/html; charset=utf-8"),
            # no Content-Length: the HTTP/1.0 body ends when the connection closes, so only the stream limit stops it
            "/unsized.jpg": lambda: self._send(200, image, length=False),
            "/missing.jpg": lambda: self._send(404, b"gone", "text/plain"),
            "/slow.jpg": lambda: (time.sleep(3), self._send(200, image)),
            "/redirect-relative": lambda: self._redirect("/portrait.jpg"),
            "/redirect-loopback": lambda: self._redirect(f"http://127.0.0.1:{lab}/portrait.jpg"),
            "/redirect-metadata": lambda: self._redirect("http://169.254.169.254/latest/meta-data/"),
            "/redirect-file": lambda: self._redirect("file:///etc/passwd"),
            "/redirect-loop": lambda: self._redirect("/redirect-loop"),
        }
        routes.get(self.path, lambda: self._send(404, b"no such route", "text/plain"))()


class ImageServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow answer never holds up the end of the session

    def __init__(self, host: str, lab_port: int = 0):
        super().__init__((host, 0), ImageHandler)
        self.lab_port = lab_port
        self.hosts_seen: list[str] = []

    @property
    def base(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


def serve(server: ImageServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


MODEL_LOADED = re.compile(r"\[(\d+)\] INFO loaded model ")
ACCESS_LINE = re.compile(r"\[\d+\] INFO (GET|POST|OPTIONS) (\S+) (\d{3}) \d+ms$", re.MULTILINE)
START_TIMEOUT_S = 300  # processes loading TensorFlow and the model on 2 busy cores


class ServerStartError(RuntimeError):
    """The server process died or never answered; the message carries its log's tail."""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()  # gunicorn's master stops its workers on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group the test started, nothing else
            process.wait(timeout=10)


@contextmanager
def running_server(command: list[str], settings: dict[str, str], log_path: Path, base: str, processes: int):
    """Run a server command from the repository root with DFD_* settings; always stop it.

    Yields once `processes` processes have loaded the model and base answers HTTP.
    """
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env={**os.environ, **settings}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            log_text = log_path.read_text(errors="replace")
            if process.poll() is not None:
                raise ServerStartError(f"{command[0]} exited with {process.returncode}:\n{log_text[-3000:]}")
            if time.monotonic() > deadline:
                raise ServerStartError(f"{command[0]} was not serving after {START_TIMEOUT_S} s:\n{log_text[-3000:]}")
            if len(MODEL_LOADED.findall(log_text)) >= processes:
                try:
                    requests.get(base + "/api/v1/health", timeout=5)
                    break
                except requests.ConnectionError:
                    pass
            time.sleep(0.5)
        yield process
    finally:
        _stop(process)
