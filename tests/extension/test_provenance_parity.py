"""The extension reads what each provenance fixture declares as the server does.

The browser's lib/provenance.js (through selftest.html, as the offscreen
document runs it) against backend/provenance.py, fixture by fixture, field by
field. The one planned difference: the browser detects and summarises Content
Credentials but does not validate them, so its state is "present" where the
server's is untrusted or invalid, and it names no signer.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from backend import provenance
from harness.browser import build_extension, extension_browser, serve_folder

pytestmark = pytest.mark.browser  # headless Chromium (scripts/test.sh installs it)
PROVENANCE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "provenance"
FIXTURES = sorted(p.name for p in PROVENANCE_DIR.iterdir() if p.suffix in {".jpg", ".png"})
SERVER_ONLY = ("signer", "signed_at")  # read from the signing certificate, which only the server parses
CALL = """
const [method, arg, done] = arguments;
window.selftest[method](arg).then(
  (value) => done({ value }),
  (error) => done({ error: String(error && error.stack || error) }),
);
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    dist = build_extension(tmp_path_factory.mktemp("extension") / "dist", selftest=True)
    with serve_folder(PROVENANCE_DIR) as base_url, extension_browser(dist) as browser:
        browser.driver.set_script_timeout(60)
        browser.open("selftest.html")
        browser.base_url = base_url
        yield browser


def read_in_browser(browser, name: str) -> dict:
    reply = browser.driver.execute_async_script(CALL, "provenance", browser.base_url + name)
    assert "error" not in reply, reply.get("error")
    return reply["value"]["provenance"]


def test_there_is_a_fixture_of_each_kind():
    assert set(FIXTURES) == {"c2pa_signed.jpg", "c2pa_tampered.jpg", "a1111_parameters.png", "comfyui_prompt.png",
                             "iptc_ai.jpg", "camera_exif.jpg", "none.jpg"}


@pytest.mark.parametrize("name", FIXTURES)
def test_browser_and_server_agree_on_what_the_file_declares(browser, name):
    server = provenance.read((PROVENANCE_DIR / name).read_bytes())
    seen = read_in_browser(browser, name)
    expected = copy.deepcopy(server)
    credentials = expected["content_credentials"]
    if credentials["state"] != "none":
        # validation is the server's: the browser says the credentials are there
        credentials.update(state="present", problems=[], **dict.fromkeys(SERVER_ONLY))
    assert seen == expected
