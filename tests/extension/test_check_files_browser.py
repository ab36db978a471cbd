""""Check files" and the popup's model and server lines, in headless Chromium with
the built extension: images from this computer are picked or dropped, scored in
the browser (nothing uploaded) and each shown with the panel a page shows.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image
from selenium.webdriver.common.by import By

from harness.servers import free_port
from tests.extension.test_extension_browser import (  # noqa: F401  (module fixtures: a build, sites, a browser, a server)
    FAKE_FACE,
    FINAL,
    FIXTURES,
    LANDSCAPE,
    REAL_FACE,
    TOKEN,
    VERDICT_TIMEOUT_S,
    active_tab_id,
    backend,
    browser,
    clean_settings,
    dist,
    page,
    set_settings,
    sites,
    tools,
    wait_for_verdicts,
    wait_until,
)

pytestmark = pytest.mark.browser  # headless Chromium (scripts/test.sh installs it)

# (file name, fixture it is made from, Pillow format or None to copy the bytes, what it shows)
FORMATS = [
    ("real.jpg", REAL_FACE, None, "face"),
    ("fake.png", FAKE_FACE, "PNG", "face"),
    ("real.webp", REAL_FACE, "WEBP", "face"),
    ("fake.gif", FAKE_FACE, "GIF", "face"),
    ("landscape.jpg", LANDSCAPE, None, "no face"),
    ("notes.txt", None, None, "refused"),
]

READ_FILES = """
return [...document.querySelectorAll('#files > li')].map(li => {
  const answer = li.querySelector('.answer');
  return { name: li.querySelector('.name').textContent, status: li.dataset.status, verdict: li.dataset.verdict || null,
           text: li.innerText, score: answer && answer.dataset.score, faces: answer ? Number(answer.dataset.faces) : null,
           boxes: li.querySelectorAll('.box').length, button: !!li.querySelector('[data-action=full-resolution]') };
});
"""


def make_files(folder, rows=FORMATS):
    """The rows' files in folder; returns their paths in row order."""
    paths = []
    for name, fixture, fmt, _ in rows:
        path = folder / name
        if fixture is None:
            path.write_text("not an image")
        elif fmt is None:
            path.write_bytes((FIXTURES / fixture).read_bytes())
        else:
            Image.open(FIXTURES / fixture).convert("RGB").save(path, fmt)
        paths.append(path)
    return paths


def wait_for_files(driver, count: int) -> list[dict]:
    return wait_until(
        lambda: (f := driver.execute_script(READ_FILES)) and len(f) == count
        and all(i["status"] in ("done", "failed") for i in f) and f,
        VERDICT_TIMEOUT_S, "every file's verdict",
    )


def test_picked_files_are_queued_and_each_gets_the_panel(browser, sites, tmp_path):
    driver = browser.driver
    paths = make_files(tmp_path)
    browser.open("files.html")
    # all at once, as a file picker hands them over: a list, checked one after another
    driver.find_element(By.ID, "pick").send_keys("\n".join(str(p) for p in paths))
    first = driver.execute_script(READ_FILES)
    assert [f["name"] for f in first] == [p.name for p in paths]
    files = wait_for_files(driver, len(paths))
    driver.save_screenshot(str(tmp_path / "check-files.png"))
    assert driver.find_element(By.ID, "summary").text == "5 of 6 checked."  # the text file is refused
    for (name, _, _, shows), got in zip(FORMATS, files):
        if shows == "refused":
            assert got["status"] == "failed" and "Not an image file" in got["text"], got
        elif shows == "no face":
            assert got["verdict"] == "no-face" and got["boxes"] == 0, got
        else:  # a verdict, each face found with its box and score
            assert got["verdict"] in FINAL - {"no-face", "error"}, got
            assert got["faces"] >= 1 and got["boxes"] == got["faces"], got
    # the same bytes score the same as the picture's badge on a page
    driver.get(sites.add_page("same.html", page("Same", f"<img id='same' src='{sites.images}{REAL_FACE}?files'>",
                                                "img{width:200px}")))
    badge = wait_for_verdicts(driver, ["same"])["same"]
    assert files[0]["verdict"] == badge["verdict"], (files[0], badge)
    assert float(files[0]["score"]) == pytest.approx(float(badge["score"]), abs=1e-4)  # the badge keeps 4 decimals


def test_dropped_files_are_checked(browser, sites):
    driver = browser.driver
    browser.open("files.html")
    urls = [f"{sites.images}{FAKE_FACE}", f"{sites.images}{LANDSCAPE}"]
    # what a drop from the desktop delivers: a DataTransfer of File objects
    driver.execute_async_script(
        "const [urls, done] = arguments;"
        "Promise.all(urls.map(u => fetch(u).then(r => r.blob()))).then(blobs => {"
        " const data = new DataTransfer();"
        " blobs.forEach((b, i) => data.items.add(new File([b], 'dropped-' + i + '.jpg', { type: b.type || 'image/jpeg' })));"
        " const drop = document.getElementById('drop');"
        " drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));"
        " drop.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));"
        " done(); });",
        urls,
    )
    files = wait_for_files(driver, 2)
    assert [f["name"] for f in files] == ["dropped-0.jpg", "dropped-1.jpg"]
    assert files[0]["verdict"] in FINAL - {"no-face", "error"} and files[1]["verdict"] == "no-face", files


def test_with_a_server_set_a_file_can_be_checked_at_full_resolution(browser, tools, backend, tmp_path):
    driver = browser.driver
    set_settings(tools, backendUrl=backend.base, apiToken=TOKEN)
    [path] = make_files(tmp_path, FORMATS[:1])
    browser.open("files.html")
    driver.find_element(By.ID, "pick").send_keys(str(path))
    [got] = wait_for_files(driver, 1)
    assert got["button"], got
    driver.find_element(By.CSS_SELECTOR, "#files [data-action=full-resolution]").click()
    server = wait_until(
        lambda: driver.execute_script(
            "const a = document.querySelector('#files .answer[data-kind=full-resolution]');"
            " return a && { source: a.dataset.source, verdict: a.dataset.verdict, score: a.dataset.score };"),
        VERDICT_TIMEOUT_S, "the server's answer")
    direct = backend.score(REAL_FACE, explain=True)
    assert server["source"] == "server" and server["verdict"] == direct["verdict"].replace("_", "-"), server
    assert float(server["score"]) == pytest.approx(direct["score"], abs=1e-4)


# (settings, what the popup's server line says), as a reader sets them
SERVER_STATES = [
    ("no server", lambda backend: {}, "unset", "none set"),
    ("privacy switch", lambda backend: {"backendUrl": backend.base, "neverSendImages": True}, "off", "never sends"),
    ("server up", lambda backend: {"backendUrl": backend.base, "apiToken": TOKEN}, "reachable", "reachable"),
    ("server down", lambda backend: {"backendUrl": f"http://127.0.0.1:{free_port()}"}, "unreachable", "not reachable"),
]


@pytest.mark.parametrize(("case", "settings", "state", "words"), SERVER_STATES, ids=[s[0] for s in SERVER_STATES])
def test_popup_shows_the_model_and_whether_the_server_answers(browser, dist, tools, backend, case, settings, state, words):
    driver = browser.driver
    info = json.loads((dist / "model" / "model-info.json").read_text())
    set_settings(tools, **settings(backend))
    driver.get("about:blank")
    tab_id = active_tab_id(tools)
    browser.open(f"popup.html?tab={tab_id}")
    assert driver.find_element(By.ID, "model").text == f"{info['name']} {info['version']}"
    server = driver.find_element(By.ID, "server")
    wait_until(lambda: server.get_attribute("data-state") == state, 10, f"the server line to say {state}")
    assert words in server.text, server.text


def test_popup_opens_check_files(browser, tools):
    driver = browser.driver
    browser.open(f"popup.html?tab={active_tab_id(tools)}")
    driver.find_element(By.ID, "open-files").click()
    [tab] = wait_until(lambda: tools.pages(browser.url("files.html")), 10, "the Check files tab")
    tools.close_page(tab["targetId"])
