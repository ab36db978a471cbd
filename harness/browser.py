"""Drive the built extension in headless Chromium, for tests.

    from harness.browser import build_extension, extension_browser, serve_folder

    dist = build_extension(tmp_path / "dist")          # npm run build into a folder of the test's own
    with serve_folder(images_dir) as base_url, extension_browser(dist) as browser:
        browser.open("selftest.html")                  # chrome-extension://<id>/selftest.html
        browser.driver.execute_async_script(...)       # Selenium WebDriver, as usual

- build_extension(out_dir) -> Path: builds extension/ into out_dir (fresh from the sources).
- serve_folder(folder, cors=True) -> context manager yielding "http://127.0.0.1:PORT/": a
  static server on a free loopback port, with `Access-Control-Allow-Origin: *`
  so extension pages may fetch from it (cors=False: without it); stops when the block ends.
- serve_signed_in_only(folder) -> context manager yielding a SignedInSite: a site
  that serves folder's files only to visitors holding the cookie its
  /sign-in page sets (403 otherwise), as a site behind a login does, and
  logs every file request (path, whether a script's fetch() made it, whether
  the cookie came).
- extension_browser(extension_dir) -> context manager yielding an ExtensionBrowser
  (.driver, .extension_id, .url(path), .open(path)): headless Chromium with
  the extension loaded and a fresh profile; quits when the block ends.

Chromium and chromedriver come from Debian (`bash scripts/install.sh chromium
chromium-driver`); CHROMIUM / CHROMEDRIVER override their paths.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness import REPO

EXTENSION_SRC = REPO / "extension"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = "install them with `bash scripts/install.sh chromium chromium-driver`"
# headless without the parts that reach the network or need a GPU or sandbox
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs
    # branded Chrome 137+ ignores --load-extension without this; harmless in Chromium
    "--disable-features=DisableLoadExtensionCommandLineSwitch",
)
PAGE_LOAD_TIMEOUT_S = 60  # a cold extension page with a 9 MB model on 2 busy cores


def build_extension(out_dir: Path) -> Path:
    """`npm run build` of extension/ into out_dir; raises with the build log on failure."""
    out_dir = Path(out_dir).resolve()
    if not (EXTENSION_SRC / "node_modules").is_dir():
        raise RuntimeError("extension/node_modules is missing; run `cd extension && npm ci`.")
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is not installed; {INSTALL_HINT}.")
    done = subprocess.run(
        [npm, "run", "build", "--silent", "--", str(out_dir)],
        cwd=EXTENSION_SRC, capture_output=True, text=True, timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Building the extension failed:\n{done.stdout}\n{done.stderr}")
    return out_dir


class _Handler(http.server.SimpleHTTPRequestHandler):
    cors = True  # serve_folder(cors=False) drops the header, like most image hosts

    def end_headers(self):
        if self.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):  # keep test output quiet
        pass


class _NoCorsHandler(_Handler):
    cors = False


@contextmanager
def _serving(handler_class, folder: Path):
    """handler_class serving folder on 127.0.0.1 at a free port, in a thread; yields the port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler_class, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve_folder(folder: Path, cors: bool = True):
    """Serve folder on 127.0.0.1 at a free port; yields the base URL ending in '/'.

    cors=False serves without `Access-Control-Allow-Origin`, as most image
    hosts do: pages may show the images but not read their pixels.
    """
    with _serving(_Handler if cors else _NoCorsHandler, folder) as port:
        yield f"http://127.0.0.1:{port}/"


SESSION_COOKIE = "session=signed-in"


@dataclass(frozen=True)
class FileRequest:
    path: str
    by_fetch: bool  # a script's fetch() (Sec-Fetch-Dest: empty), as the extension's; a page's <img> says "image"
    signed_in: bool  # the request carried the session cookie


@dataclass
class SignedInSite:
    base: str  # http://localhost:PORT/
    requests: list  # FileRequest, in arrival order
    pages: dict  # path -> HTML, served to anyone

    def add_page(self, name: str, html: str) -> str:
        self.pages["/" + name] = html
        return self.base + name


class _SignedInOnlyHandler(_NoCorsHandler):
    site: SignedInSite  # set per server

    def do_GET(self):
        if self.path == "/sign-in":
            return self._answer(200, b"signed in", {"Set-Cookie": f"{SESSION_COOKIE}; Path=/; HttpOnly"})
        if self.path in self.site.pages:
            return self._answer(200, self.site.pages[self.path].encode(), {"Content-Type": "text/html"})
        signed_in = SESSION_COOKIE in (self.headers.get("Cookie") or "")
        by_fetch = self.headers.get("Sec-Fetch-Dest") == "empty"
        self.site.requests.append(FileRequest(self.path, by_fetch, signed_in))
        if not signed_in:
            return self._answer(403, b"sign in first", {})
        return super().do_GET()

    def _answer(self, status: int, body: bytes, headers: dict):
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_signed_in_only(folder: Path):
    """folder's files on http://localhost:PORT/, only with the cookie /sign-in sets; yields a SignedInSite."""
    site = SignedInSite("", [], {})
    with _serving(type("Handler", (_SignedInOnlyHandler,), {"site": site}), folder) as port:
        site.base = f"http://localhost:{port}/"
        yield site


def extension_id_for(extension_dir: Path) -> str:
    """The id Chromium gives an unpacked extension: from its absolute path (no "key" in the manifest)."""
    digest = hashlib.sha256(str(Path(extension_dir).resolve()).encode()).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


@dataclass
class ExtensionBrowser:
    driver: object  # selenium.webdriver.Chrome
    extension_id: str

    def url(self, path: str) -> str:
        return f"chrome-extension://{self.extension_id}/{path.lstrip('/')}"

    def open(self, path: str) -> None:
        """Open an extension page; raises if Chromium did not load the extension."""
        self.driver.get(self.url(path))
        if self.driver.execute_script("return typeof chrome.runtime?.id") != "string":
            raise RuntimeError(
                f"{self.url(path)} did not open as an extension page; Chromium did not load the "
                "extension (check the manifest with chrome://extensions in a headed browser)."
            )


@contextmanager
def extension_browser(extension_dir: Path):
    """Headless Chromium with extension_dir loaded and a fresh profile; yields an ExtensionBrowser."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).is_file():
            raise RuntimeError(f"{binary} is missing; {INSTALL_HINT}.")
    extension_dir = Path(extension_dir).resolve()
    if not (extension_dir / "manifest.json").is_file():
        raise RuntimeError(f"{extension_dir} has no manifest.json; build it with build_extension().")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--load-extension={extension_dir}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT_S)
        yield ExtensionBrowser(driver, extension_id_for(extension_dir))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
