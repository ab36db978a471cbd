"""The upload page's "What the file says" section, in headless Chromium against the app on loopback."""

from __future__ import annotations

import threading

import pytest
from harness.servers import FIXTURES
from test_gunicorn import _chromium
from werkzeug.serving import make_server

PROVENANCE = FIXTURES / "provenance"
PIXEL_TEXTS = {"Likely fake", "Likely real", "Uncertain", "No face found"}

# file, headline, lines the section must show (by data-kind: a phrase of the text)
PAGE_TABLE = [
    ("c2pa_signed.jpg", "AI-made (declared by the file)", {
        "credentials": "signature valid but the signer is on no trust list",
        "claim-generator": "Deepfake check test fixtures 1.0",
        "action": "created by a generative AI model (Test image generator)",
    }),
    ("c2pa_tampered.jpg", "AI-made (declared by the file)", {
        "credentials": "present but invalid: the file changed after signing",
    }),
    ("comfyui_prompt.png", "AI-made (declared by the file)", {
        "generator": 'ComfyUI, model flux1-dev-fp8.safetensors, prompt "an elderly woman',
    }),
    ("iptc_ai.jpg", "AI-made (declared by the file)", {
        "source": "Declared source (IPTC): created by a generative AI model",
    }),
    ("camera_exif.jpg", None, {"camera": "Camera: Canon Canon EOS 5D Mark IV", "credentials": "Content Credentials: none"}),
    ("none.jpg", None, {"nothing": "Nothing declared.", "note": "Most sites strip metadata on upload"}),
]


@pytest.fixture(scope="module")
def page_server(app):
    """The app (model already loaded) served on a free loopback port, for one browser."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def driver():
    browser = _chromium()
    yield browser
    browser.quit()


@pytest.mark.parametrize(("name", "headline", "lines"), PAGE_TABLE, ids=[row[0] for row in PAGE_TABLE])
def test_upload_page_says_what_the_file_declares(page_server, driver, name, headline, lines):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page_server + "/")
    driver.find_element(By.ID, "file").send_keys(str(PROVENANCE / name))
    WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "result").is_displayed())
    summary = driver.find_element(By.ID, "summary").text
    pixels = driver.find_element(By.ID, "pixel-verdict")
    if headline:
        assert summary == headline
        # the pixel verdict is still shown, under the declaration
        assert pixels.is_displayed() and pixels.text.split(":", 1)[1].split(",")[0].strip() in PIXEL_TEXTS
    else:
        assert summary in PIXEL_TEXTS and not pixels.is_displayed()
    shown = {}
    for item in driver.find_elements(By.CSS_SELECTOR, "#provenance li"):
        shown.setdefault(item.get_attribute("data-kind"), []).append(item.text)
    for kind, phrase in lines.items():
        assert any(phrase in text for text in shown.get(kind, [])), (kind, shown)
    assert "not evidence of a real photo" in shown["note"][0]
