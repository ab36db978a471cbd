"""The real server: gunicorn with 2 workers on a loopback port, driven over HTTP.

Started the way the README says (`gunicorn -c backend/gunicorn.conf.py`,
settings from DFD_* variables), stopped by the test whatever happens.
"""

from __future__ import annotations

import io
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image
from harness.servers import (
    ACCESS_LINE,
    FIXTURES,
    MODEL_LOADED,
    PORTRAIT,
    PORTRAIT_FACE_CENTRE,
    PORTRAIT_SIZE,
    box_contains,
    encode,
    free_port,
    portrait,
    running_server,
)

from backend.model import get_classifier

pytestmark = pytest.mark.slow  # starts the server in its own processes, each loading the model

GUNICORN = Path(sys.executable).parent / "gunicorn"
TOKEN = "test-token-4f9c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXTENSION_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
REQUEST_TIMEOUT_S = 120  # 20 requests queue behind 2 single-request workers


class Server:
    def __init__(self, base: str, log: Path):
        self.base, self.log_path = base, log

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def score(self, data: bytes, query: str = "", headers=AUTH, **kwargs) -> requests.Response:
        return requests.post(
            f"{self.base}/api/v1/score{query}", files={"image": ("photo.jpg", data)}, headers=headers,
            timeout=REQUEST_TIMEOUT_S, **kwargs,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {"DFD_HOST": "127.0.0.1", "DFD_PORT": str(port), "DFD_WORKERS": "2", "DFD_API_TOKEN": TOKEN}
    # both workers must have loaded the model before the concurrency test means anything
    with running_server([str(GUNICORN), "-c", "backend/gunicorn.conf.py"], settings, log_path, base, processes=2):
        yield Server(base, log_path)


@pytest.fixture(scope="module")
def expected(make_app):
    """What the in-process app answers for each image: the server must agree."""
    client = make_app().test_client()

    def answer(data: bytes) -> dict:
        return client.post("/api/v1/score", data={"image": (io.BytesIO(data), "photo.jpg")}).get_json()

    return answer


def _big_photo() -> bytes:
    """A 2400x2812 JPEG of over 1 MB."""
    big = portrait().resize((2400, 2812), Image.BICUBIC)
    return encode(big, "JPEG", quality=95)


def test_twenty_concurrent_requests_are_all_answered_correctly(server, expected, app):
    images = [p.read_bytes() for p in sorted((FIXTURES / "faces").glob("*/*.jpg"))[:14]]
    images += [PORTRAIT.read_bytes(), (FIXTURES / "photos" / "landscape_china.jpg").read_bytes(), _big_photo()]
    images += [encode(portrait().convert("L"), "PNG"), encode(portrait(), "WEBP"), PORTRAIT.read_bytes()]
    assert len(images) == 20
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda data: server.score(data), images))
    with app.app_context():
        verdict = get_classifier().verdict
    for data, response in zip(images, responses):
        assert response.status_code == 200, response.text
        got, want = response.json(), expected(data)
        assert got["image"] == want["image"]
        assert len(got["faces"]) == len(want["faces"])
        assert got["verdict"] in {"fake", "real", "uncertain", "no_face"}
        for g, w in zip(got["faces"], want["faces"]):
            assert g["box"] == pytest.approx(w["box"], abs=0.5)
            # another thread count may sum in another order; the answer must not change beyond that
            assert g["score"] == pytest.approx(w["score"], abs=1e-4)
            assert g["verdict"] == verdict(g["score"])
    # the model loaded once per worker, not per request, and no worker was restarted
    log = server.log()
    assert len(set(MODEL_LOADED.findall(log))) == 2 and len(MODEL_LOADED.findall(log)) == 2
    assert log.count("Booting worker") == 2


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (PORTRAIT.read_bytes()[:20000], 422, "damaged or truncated"),
        (b"just some text", 415, "not an image"),
        (b"", 400, "holds no image"),
    ],
)
def test_bad_uploads_get_json_errors_and_the_workers_keep_serving(server, data, status, message):
    response = server.score(data)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert server.score(PORTRAIT.read_bytes()).status_code == 200
    assert server.log().count("Booting worker") == 2


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v1/health", {}, 401),
        ("/api/v1/health", {"Authorization": "Bearer not-the-token"}, 401),
        ("/api/v1/health", AUTH, 200),
        ("/api/v1/model", {}, 401),
        ("/api/v1/model", AUTH, 200),
        ("/api/v1/openapi.json", {}, 401),
        ("/", {}, 200),
    ],
)
def test_token_is_checked_over_http(server, path, headers, status):
    response = requests.get(server.base + path, headers=headers, timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"] == "Send the API token as 'Authorization: Bearer <token>'."


def test_scoring_needs_the_token_over_http(server):
    refused = server.score(PORTRAIT.read_bytes(), headers={})
    assert refused.status_code == 401


@pytest.mark.parametrize(("origin", "allowed"), [(EXTENSION_ORIGIN, True), ("https://evil.example", False)])
def test_cors_is_checked_over_http(server, origin, allowed):
    preflight = requests.options(
        f"{server.base}/api/v1/score",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert preflight.status_code == 200
    assert (preflight.headers.get("Access-Control-Allow-Origin") == origin) is allowed
    scored = server.score(PORTRAIT.read_bytes(), headers={**AUTH, "Origin": origin})
    assert scored.status_code == 200
    assert (scored.headers.get("Access-Control-Allow-Origin") == origin) is allowed


def test_log_has_one_line_per_request_and_no_query_strings(server):
    before = len(ACCESS_LINE.findall(server.log()))
    requests.get(f"{server.base}/api/v1/health?who=private-caller", headers=AUTH, timeout=REQUEST_TIMEOUT_S)
    server.score(PORTRAIT.read_bytes(), "?explain=0&note=private-note")
    requests.get(f"{server.base}/nothing-here?q=private-query", timeout=REQUEST_TIMEOUT_S)
    time.sleep(0.5)  # the workers write their lines asynchronously to the log file
    log = server.log()
    assert ACCESS_LINE.findall(log)[before:] == [
        ("GET", "/api/v1/health", "200"),
        ("POST", "/api/v1/score", "200"),
        ("GET", "/nothing-here", "404"),
    ]
    assert "private-" not in log and "photo.jpg" not in log


def _chromium():
    """Headless Chromium through Selenium, or a skip saying how to install it."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
    if not (chromium.is_file() and chromedriver.is_file()):
        pytest.skip("Chromium is missing; install it with `bash scripts/install.sh chromium chromium-driver`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(str(chromedriver)))


def test_upload_page_shows_boxes_verdicts_and_heatmaps(server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _chromium()
    try:
        wait = WebDriverWait(driver, REQUEST_TIMEOUT_S)
        driver.get(server.base + "/")
        status = driver.find_element(By.ID, "status")
        # no token yet: the server refuses and the page asks for one
        driver.find_element(By.ID, "file").send_keys(str(PORTRAIT))
        wait.until(lambda d: "API token" in status.text)
        assert driver.find_element(By.ID, "token-box").get_attribute("open") is not None
        driver.find_element(By.ID, "token").send_keys(TOKEN, Keys.TAB)
        driver.find_element(By.ID, "file").send_keys(str(PORTRAIT))
        wait.until(lambda d: d.find_element(By.ID, "result").is_displayed())
        assert driver.find_element(By.ID, "summary").text in {"Likely fake", "Likely real", "Uncertain"}
        boxes = driver.find_elements(By.CSS_SELECTOR, "#figure .box")
        assert len(boxes) == 1
        assert re.search(r"1: (Likely fake|Likely real|Uncertain) \d+%", boxes[0].text)
        # the box sits on the face as drawn on screen
        picture, box = driver.find_element(By.ID, "preview").rect, boxes[0].rect
        face_x = picture["x"] + picture["width"] * PORTRAIT_FACE_CENTRE[0] / PORTRAIT_SIZE[0]
        face_y = picture["y"] + picture["height"] * PORTRAIT_FACE_CENTRE[1] / PORTRAIT_SIZE[1]
        assert box_contains((box["x"], box["y"], box["width"], box["height"]), (face_x, face_y))
        heatmap = driver.find_element(By.CSS_SELECTOR, "#faces .heatmap")
        wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth", heatmap) > 0)
        assert "likely fake" in driver.find_element(By.CSS_SELECTOR, "#faces li").text
        # the token is remembered in this browser
        driver.refresh()
        driver.find_element(By.ID, "file").send_keys(str(FIXTURES / "photos" / "landscape_china.jpg"))
        wait.until(lambda d: d.find_element(By.ID, "result").is_displayed())
        assert driver.find_element(By.ID, "summary").text == "No face found"
        assert driver.find_elements(By.CSS_SELECTOR, "#figure .box") == []
    finally:
        driver.quit()
