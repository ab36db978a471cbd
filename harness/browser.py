"""Drive the built extension in headless Chromium, for tests.

    from harness.browser import build_extension, extension_browser, serve_folder

    dist = build_extension(tmp_path / "dist", selftest=True)  # npm run build into a folder of the test's own
    with serve_folder(images_dir) as base_url, extension_browser(dist) as browser:
        browser.open("selftest.html")                  # chrome-extension://<id>/selftest.html
        browser.driver.execute_async_script(...)       # Selenium WebDriver, as usual

- build_extension(out_dir, selftest=False) -> Path: builds extension/ into out_dir (fresh from
  the sources); selftest=True adds selftest.html, the scoring self-test page the parity tests
  and benchmarks drive, which the shipped build leaves out.
- serve_folder(folder, cors=True) -> context manager yielding "http://127.0.0.1:PORT/": a
  static server on a free loopback port, with `Access-Control-Allow-Origin: *`
  so extension pages may fetch from it (cors=False: without it); stops when the block ends.
  A request whose query holds `delay_ms=N` is answered N ms late (an image server slow to answer).
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
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
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


def build_extension(out_dir: Path, selftest: bool = False) -> Path:
    """`npm run build` of extension/ into out_dir (with selftest.html if asked); raises with the build log on failure."""
    out_dir = Path(out_dir).resolve()
    if not (EXTENSION_SRC / "node_modules").is_dir():
        raise RuntimeError("extension/node_modules is missing; run `cd extension && npm ci`.")
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is not installed; {INSTALL_HINT}.")
    done = subprocess.run(
        [npm, "run", "build", "--silent", "--", str(out_dir), *(["--selftest"] if selftest else [])],
        cwd=EXTENSION_SRC, capture_output=True, text=True, timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Building the extension failed:\n{done.stdout}\n{done.stderr}")
    return out_dir


# the longest `delay_ms` a request may ask for: a test's slow server still answers
MAX_DELAY_MS = 60_000


class _Handler(http.server.SimpleHTTPRequestHandler):
    cors = True  # serve_folder(cors=False) drops the header, like most image hosts

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        delay_ms = min(int(query.get("delay_ms", ["0"])[0]), MAX_DELAY_MS)
        if delay_ms > 0:
            time.sleep(delay_ms / 1000)
        super().do_GET()

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


# ---------------------------------------------------------------- badge pages
#
# Pages that test and time auto-badges. Each records, from its first script,
# every image the extension ever marked (`data-dfd-verdict`), when the page
# last changed (window.lastChange: its own scripts set it) and when every
# marked image last became final (window.settledAt), in performance.now() ms.

FINAL_VERDICTS = ("real", "fake", "uncertain", "no-face", "error")
BADGE_WATCH_JS = """
window.everMarked = new Set();
window.lastChange = 0;
window.settledAt = null;
const FINAL = new Set(%s);
new MutationObserver((records) => {
  for (const r of records) window.everMarked.add(r.target);
  const all = [...window.everMarked].every(i => FINAL.has(i.getAttribute('data-dfd-verdict')));
  if (all) { if (window.settledAt === null) window.settledAt = performance.now(); }
  else window.settledAt = null;
}).observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['data-dfd-verdict'] });
// scrolls to the bottom, `step` px every `every` ms; `then` runs when it gets there
window.scrollDown = (step, every, then) => { const timer = setInterval(() => {
  window.scrollBy(0, step); window.lastChange = performance.now();
  if (window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 1) {
    clearInterval(timer); if (then) then(); } }, every); };
// runs `act` once the extension has badged its first image "scanning"
window.whenScanning = (act) => { const mo = new MutationObserver(() => {
  if (document.querySelector('img[data-dfd-verdict=scanning]')) { mo.disconnect(); act(); } });
  mo.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['data-dfd-verdict'] }); };
""" % json.dumps(list(FINAL_VERDICTS))
# what every image the page saw marked says now
READ_MARKED_JS = """
return [...window.everMarked].map((img, i) => ({
  id: img.id || String(i), connected: img.isConnected, verdict: img.getAttribute('data-dfd-verdict'),
  src: img.currentSrc || img.src }));
"""
CROWDED_IMAGES = 200


def badge_page_html(title: str, body: str, style: str, script: str = "") -> str:
    """A page with BADGE_WATCH_JS in its head, before anything the extension can see."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>body{{margin:0;font:14px sans-serif}} {style}</style><script>{BADGE_WATCH_JS}</script>"
        f"</head><body>{body}<script>{script}</script></body></html>"
    )


def crowded_page(images: str, pictures: list[str], tag: str) -> str:
    """200 images of `pictures` (paths under the images origin, cycled; each URL distinct by
    tag): 40 in view at load, 8 of them slow to answer (3 s) and 6 missing (404); 60 lazy
    below a tall spacer; 40 inserted by script 1 s and 2.5 s after load; 20 whose src
    changes mid-scan (10 to other pictures, 10 to missing files); 40 more at the bottom. The
    page scrolls to the bottom at 1200 px/s from its load event, then jumps back to the top.
    """
    def img(i: int, extra: str = "", **attrs) -> str:
        shown = "".join(f" {k.replace('_', '-')}='{v}'" for k, v in attrs.items())
        return f"<img id='c-{i}'{shown} src='{images}{pictures[i % len(pictures)]}?{tag}={i}{extra}'>"

    def missing(i: int) -> str:
        return f"<img id='c-{i}' src='{images}missing/{tag}-{i}.jpg'>"

    top = "".join(missing(i) if i % 7 == 3 else img(i, "&delay_ms=3000" if i % 5 == 1 else "")
                  for i in range(40))
    lazy = "".join(img(i, loading="lazy") for i in range(40, 100))
    replaced = "".join(img(i, data_swap="1") for i in range(140, 160))
    bottom = "".join(img(i) for i in range(160, CROWDED_IMAGES))
    later = json.dumps([f"{images}{pictures[i % len(pictures)]}?{tag}={i}" for i in range(100, 140)])
    swaps = json.dumps([f"{images}{pictures[(i + 7) % len(pictures)]}?{tag}=new{i}" if i % 2
                        else f"{images}missing/{tag}-new{i}.jpg" for i in range(140, 160)])
    script = (
        "addEventListener('load', () => {"
        f" const later = {later};"
        " const insert = (from, to) => { later.slice(from, to).forEach((src, k) => {"
        "   const im = new Image(); im.id = 'c-' + (100 + from + k); im.src = src;"
        "   document.getElementById(k % 2 ? 'later-top' : 'later-bottom').append(im); });"
        "   window.lastChange = performance.now(); };"
        " setTimeout(() => insert(0, 20), 1000); setTimeout(() => insert(20, 40), 2500);"
        f" window.whenScanning(() => setTimeout(() => {{ const swaps = {swaps};"
        "   document.querySelectorAll('img[data-swap]').forEach((im, k) => { im.src = swaps[k]; });"
        "   window.lastChange = performance.now(); }, 300));"
        " window.scrollDown(120, 100, () => { window.scrollTo(0, 0); window.lastChange = performance.now(); });"
        "});"
    )
    body = (
        f"<div>{top}</div><div id='later-top'></div><div>{replaced}</div>"
        f"<div style='height:2500px'></div><div>{lazy}</div><div id='later-bottom'></div>"
        f"<div style='height:1500px'></div><div>{bottom}</div>"
    )
    return badge_page_html(f"{CROWDED_IMAGES} images", body, "img{width:120px;height:120px;margin:2px}", script)
