"""The offscreen document's scorer workers (extension/src/lib/scorer-pool.js): images are
scored in two module workers on a 2-core machine, the panel says so, and a worker that
dies mid-scan leaves no badge scanning: its image gets a verdict or an error that says
what happened, another worker takes its place, and later images are scored as before.

Headless Chromium with the built extension, a fresh browser for the module; WebGL is
SwiftShader here (no GPU), so the offscreen document starts its pool of wasm workers.
DevTools (harness/devtools.py) reaches the workers inside the offscreen document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from harness.browser import READ_MARKED_JS, badge_page_html, extension_browser
from harness.devtools import DevTools
from tests.extension.test_badges_settle_browser import FACES, WINDOW
from tests.extension.test_extension_browser import (
    FINAL,
    READ_BADGES,
    VERDICT_TIMEOUT_S,
    context_menu_click,
    wait_for_panel,
    wait_until,
)
from tests.extension.test_extension_browser import dist, sites  # noqa: F401  (module fixtures: a build, two loopback sites)

pytestmark = pytest.mark.browser  # headless Chromium (scripts/test.sh installs it)

MAX_WORKERS = 2  # lib/scorer-pool.js: one a core, two at most
# a dead worker's image settles well within the content script's 60 s wait for an
# answer: the pool hears of the death at once (its lock), not by that timeout
SETTLED_AFTER_DEATH_S = 40
# a replacement worker loads the model (about 1 s; several on 2 busy cores)
REPLACED_WITHIN_S = 60
# the second half of the dying page's images answer this late: they are still to be
# scored when the worker dies, so the pool must not hand them to the dead one
LATE_IMAGES_MS = 4000


def faces_page(images: str, tag: str, count: int, late_from: int | None = None) -> str:
    """`count` fixture faces in view, each URL distinct by tag; those from `late_from` on
    answer LATE_IMAGES_MS late."""
    late = lambda i: f"&delay_ms={LATE_IMAGES_MS}" if late_from is not None and i >= late_from else ""  # noqa: E731
    body = "".join(f"<img id='{tag}-{i}' src='{images}{FACES[i % len(FACES)]}?{tag}={i}{late(i)}'>"
                   for i in range(count))
    return badge_page_html(tag, body, "img{width:120px;height:120px;margin:2px}")


@pytest.fixture(scope="module")
def browser(dist):
    """A fresh browser for the module: the first page meets the workers loading the model."""
    with extension_browser(dist) as b:
        b.driver.set_window_size(*WINDOW)
        b.driver.set_script_timeout(VERDICT_TIMEOUT_S)
        yield b


def pool_size(driver) -> int:
    return min(MAX_WORKERS, driver.execute_script("return navigator.hardwareConcurrency"))


def running_workers(tools: DevTools) -> int:
    """How many scorer workers answer in the offscreen document."""
    return len(tools.evaluate_in_workers(tools.offscreen_document(), "1"))


def settled(driver, timeout: float) -> list[dict]:
    """Every image the page marked, once each is final; fails after `timeout` s."""
    def final():
        marked = driver.execute_script(READ_MARKED_JS)
        return marked if marked and all(m["verdict"] in FINAL for m in marked) else None

    try:
        return wait_until(final, timeout, "every badge to settle", interval=0.25)
    except AssertionError:
        stuck = [m for m in driver.execute_script(READ_MARKED_JS) if m["verdict"] not in FINAL]
        raise AssertionError(f"{len(stuck)} badges not final {timeout} s on: {stuck}") from None


def test_a_page_of_faces_is_badged_by_the_scorer_workers(browser, sites):
    driver = browser.driver
    tools = DevTools(browser)
    driver.get(sites.add_page("pool.html", faces_page(sites.images, "pool", 12)))
    marked = settled(driver, VERDICT_TIMEOUT_S)
    assert len(marked) == 12 and all(m["verdict"] in FINAL - {"error"} for m in marked), marked
    size = pool_size(driver)
    assert running_workers(tools) == size
    # what the reader is told: which backend answered, and in how many workers
    src = driver.execute_script("return document.images[0].currentSrc")
    assert context_menu_click(tools, src) == "panel"
    text = wait_for_panel(driver, lambda p: p["state"] == "done")["answers"][0]["text"]
    spread = f"wasm in {size} workers" if size > 1 else "wasm"
    assert f", {spread}, " in text, text


@dataclass(frozen=True)
class Death:
    name: str
    expression: str  # evaluated in the first scorer worker while images scan
    reason: str  # what the error of the image it held says happened


# the ways a worker goes: ended from outside (no event says so; its lock does) or crashed
DEATHS = [
    Death("closed", "close()", "the scorer worker stopped"),
    Death("crashed", "setTimeout(() => { throw new Error('killed by the test'); })", "the scorer worker crashed"),
]


@pytest.mark.parametrize("death", DEATHS, ids=[d.name for d in DEATHS])
def test_a_worker_that_dies_mid_scan_leaves_no_badge_scanning(browser, sites, death):
    driver = browser.driver
    tools = DevTools(browser)
    driver.get(sites.add_page(f"{death.name}.html", faces_page(sites.images, death.name, 24, late_from=12)))
    wait_until(lambda: any(m["verdict"] == "scanning" for m in driver.execute_script(READ_MARKED_JS)),
               VERDICT_TIMEOUT_S, "images to scan")
    # running workers: the module's first page (or the first row) has loaded them
    wait_until(lambda: running_workers(tools) == pool_size(driver), VERDICT_TIMEOUT_S, "the workers")
    tools.evaluate_in_workers(tools.offscreen_document(), death.expression, only=0, wait=False)
    died = time.monotonic()
    assert any(m["verdict"] == "scanning" for m in driver.execute_script(READ_MARKED_JS)), "all done before"
    marked = settled(driver, SETTLED_AFTER_DEATH_S)
    assert time.monotonic() - died < SETTLED_AFTER_DEATH_S
    # an image the dead worker held says why it failed; every other image has its verdict
    errors = [b["title"] for b in driver.execute_script(READ_BADGES) if b["verdict"] == "error"]
    assert all(death.reason in title for title in errors), errors
    assert len(errors) <= 1 and len(marked) == 24, (errors, marked)
    # another worker took its place, and a later page is scored as before
    wait_until(lambda: running_workers(tools) == pool_size(driver), REPLACED_WITHIN_S, "a replacement worker")
    driver.get(sites.add_page(f"{death.name}-after.html", faces_page(sites.images, f"{death.name}-after", 6)))
    after = settled(driver, VERDICT_TIMEOUT_S)
    assert all(m["verdict"] in FINAL - {"error"} for m in after), after
