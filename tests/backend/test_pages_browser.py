"""The server's pages in headless Chromium: a round of spot the fake played by keyboard, and a report from the upload page.

The server is the app itself on a free loopback port, in a thread of the
test; the game's faces are a labelled temporary folder built from tests/fixtures/faces.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from harness.servers import FIXTURES, PORTRAIT
from werkzeug.serving import make_server

from backend.db import Report, get_db
from backend.model import get_classifier
from scoring.faces import load_image
from harness.browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS, INSTALL_HINT
from harness.video import real_then_fake

pytestmark = pytest.mark.browser  # headless Chromium (scripts/test.sh installs it)
ROUND = 10
WAIT_S = 60  # a face scored with its heatmap on 2 busy cores, the first one cold


@contextmanager
def serving(app):
    """The app on 127.0.0.1 at a free port, in a thread; yields its base URL and stops after the block."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).is_file():
            pytest.fail(f"{binary} is missing; {INSTALL_HINT}.")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def game_dir(tmp_path_factory):
    """5 real and 5 fake fixture faces: one round's worth."""
    folder = tmp_path_factory.mktemp("game")
    for label in ("real", "fake"):
        (folder / label).mkdir()
        for path in sorted((FIXTURES / "faces" / label).glob("*.jpg"))[:5]:
            shutil.copy(path, folder / label / path.name)
    return folder


def wait_until(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


def state(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-state")


def press(driver, key: str) -> None:
    """A key press where the focus is, as a keyboard user makes it."""
    ActionChains(driver).send_keys(key).perform()


def test_a_round_is_played_through_by_keyboard(make_app, driver, game_dir, tmp_path):
    app = make_app(GAME_DIR=str(game_dir), REPORTS_DB=str(tmp_path / "game.sqlite3"))
    with app.app_context():
        classifier = get_classifier()
    truth_of = {p.read_bytes(): p.parent.name for p in game_dir.glob("*/*.jpg")}
    expected_person = expected_model = 0
    seen = set()
    with serving(app) as base:
        driver.get(base + "game")
        for index in range(ROUND):
            wait_until(lambda: state(driver) == "guess", f"face {index + 1}")
            assert driver.find_element(By.ID, "progress").text == f"Face {index + 1} of {ROUND}"
            face = driver.find_element(By.ID, "face")
            assert driver.switch_to.active_element.get_attribute("id") == "guess-real"  # the keys start here
            src = face.get_attribute("src")
            seen.add(src)
            image = app.test_client().get(src.removeprefix(base.rstrip("/"))).data
            truth = truth_of[image]
            guess = "real" if index % 2 else "fake"
            press(driver, guess[0])
            wait_until(lambda: state(driver) == "reveal", f"the answer to face {index + 1}")
            assert driver.find_element(By.ID, "truth").get_attribute("data-truth") == truth
            assert driver.find_element(By.ID, "you").text == f"You said {guess}: {'right' if guess == truth else 'wrong'}."
            score = classifier.score_image(load_image(image), full_resolution=True).score
            model_guess = "fake" if score >= classifier.threshold else "real"
            assert f"The model said {model_guess} ({round(score * 100)}% likely fake" in driver.find_element(By.ID, "model").text
            assert driver.find_element(By.ID, "heatmap").is_displayed()
            expected_person += guess == truth
            expected_model += model_guess == truth
            counter = driver.find_element(By.ID, "score")
            assert (counter.get_attribute("data-person"), counter.get_attribute("data-model")) == (
                str(expected_person), str(expected_model))
            press(driver, "f")  # a second answer to the same face changes nothing
            assert driver.find_element(By.ID, "score").get_attribute("data-person") == str(expected_person)
            assert driver.switch_to.active_element.get_attribute("id") == "next"
            press(driver, "n")
        wait_until(lambda: state(driver) == "done", "the end of the round")
        final = driver.find_element(By.ID, "final-score")
        assert final.text == f"You {expected_person} of {ROUND} · the model {expected_model} of {ROUND}"
        assert len(seen) == ROUND  # every face of the folder, once
        press(driver, "n")  # play again
        wait_until(lambda: state(driver) == "guess", "a new round")
        assert driver.find_element(By.ID, "progress").text == f"Face 1 of {ROUND}"


def test_without_a_folder_the_page_says_how_to_set_one(make_app, driver):
    with serving(make_app(GAME_DIR="")) as base:
        driver.get(base + "game")
        wait_until(lambda: state(driver) == "unavailable", "the page to give up")
        status = driver.find_element(By.ID, "status").text
        assert "set DFD_GAME_DIR to a folder with real/ and fake/" in status
        assert not driver.find_element(By.ID, "board").is_displayed()


@pytest.mark.parametrize("include_image", [False, True], ids=["hash only", "with the image"])
def test_the_upload_page_reports_a_wrong_verdict_to_its_server(make_app, driver, tmp_path, include_image):
    app = make_app(REPORTS_DB=str(tmp_path / "reports.sqlite3"))
    with serving(app) as base:
        driver.get(base)
        driver.find_element(By.ID, "file").send_keys(str(PORTRAIT))
        wait_until(lambda: driver.find_element(By.ID, "result").is_displayed(), "the verdict")
        shown_verdict = driver.find_element(By.ID, "summary").get_attribute("class")
        driver.find_element(By.CSS_SELECTOR, "#report-box summary").click()
        driver.find_element(By.ID, "report-send").click()
        status = driver.find_element(By.ID, "report-status")
        assert status.text == "Choose what the image really is first."  # nothing sent without a label
        driver.find_element(By.CSS_SELECTOR, "input[name=report-label][value=real]").click()
        driver.find_element(By.ID, "report-note").send_keys("my grandmother, 1952")
        assert not driver.find_element(By.ID, "report-image").is_selected()  # off by default
        if include_image:
            driver.find_element(By.ID, "report-image").click()
        driver.find_element(By.ID, "report-send").click()
        wait_until(lambda: status.get_attribute("data-report-id"), "the report to be kept", 20)
        assert status.text.startswith("Thank you: report")
    with app.app_context():
        [report] = get_db().scalars(select(Report)).all()
    data = PORTRAIT.read_bytes()
    assert (report.label, report.note, report.verdict, report.url) == ("real", "my grandmother, 1952", shown_verdict, None)
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert report.image == (data if include_image else None)


def test_the_upload_page_plots_each_face_of_a_video_over_time(make_app, driver, tmp_path):
    clip = tmp_path / "interview.mp4"
    clip.write_bytes(real_then_fake())
    with serving(make_app()) as base:
        driver.get(base)
        driver.find_element(By.ID, "file").send_keys(str(clip))
        wait_until(lambda: driver.find_element(By.ID, "video-result").is_displayed(), "the video's verdict")
        assert not driver.find_element(By.ID, "result").is_displayed()  # the image result stays hidden
        summary = driver.find_element(By.ID, "video-summary")
        assert summary.get_attribute("class") == "fake" and summary.text.startswith("Likely fake")
        # one line per face, four samples each, the fake face's line high and the real one's low
        lines = driver.find_elements(By.CSS_SELECTOR, "#timeline polyline.track")
        assert [line.get_attribute("data-track") for line in lines] == ["1", "2"]
        heights = [[float(p.split(",")[1]) for p in line.get_attribute("points").split()] for line in lines]
        assert [len(h) for h in heights] == [4, 4]
        assert min(heights[0]) > max(heights[1])  # SVG y grows downwards: the real face's scores are lower
        assert driver.find_elements(By.CSS_SELECTOR, "#timeline rect.band")  # the model's uncertain band
        tracks = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#tracks li")]
        assert tracks[0].startswith("Face 1: Likely real") and tracks[1].startswith("Face 2: Likely fake")
        frames = driver.find_elements(By.CSS_SELECTOR, "#suspicious-frames li")
        assert len(frames) == 4
        for frame in frames:
            images = frame.find_elements(By.TAG_NAME, "img")
            assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
            assert "face 2" in frame.text
