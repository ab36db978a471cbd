"""The extension scores images as the Python path does.

Every image in tests/fixtures/parity is scored twice:
- Python: scoring.faces.load_image + scoring.classifier.Classifier.score_image
  on shipped_model/ (the Keras model);
- browser: the extension built from extension/ (its committed model/ files),
  loaded into headless Chromium; its selftest.html page runs lib/scorer.js,
  the code the offscreen document runs, on the image fetched from a loopback
  server.
Both must find the same faces (boxes within 3% of the image size) with P(fake)
within 0.01 (converter.parity). The browser runs the wasm backend, which is
what a machine without a GPU gets; the default backend order is checked on a
few images. Threaded wasm must start where the cores allow it (DevTools
emulates them where this machine has too few) and score as one thread does.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from converter.parity import Result, check_parity
from scoring.classifier import verdict_for
from harness.browser import build_extension, extension_browser, serve_folder

pytestmark = pytest.mark.browser  # headless Chromium (scripts/test.sh installs it)
PARITY_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "parity"
IMAGES = sorted(p.name for p in PARITY_DIR.iterdir() if p.suffix.lower() in {".jpg", ".png", ".gif", ".bmp", ".webp"})
SCRIPT_TIMEOUT_S = 300  # one image on the cpu backend, on 2 busy cores
# a face, no face, several faces and a large image through the default order
DEFAULT_BACKEND_IMAGES = ["real_portrait_grace_hopper.jpg", "noface_logo_matplotlib.png", "multi_grid_2x2.jpg",
                          "large_2000x1500.jpg"]
# threaded wasm against one thread: a face, four faces, a fake
THREADED_IMAGES = ["real_portrait_grace_hopper.jpg", "multi_grid_2x2.jpg", "fake_stylegan_ffhq_01R3N4195O.jpg"]
EMULATED_CORES = 4  # 3 threads: more than this machine's 2 cores, fewer than the cap of 4
THREADED_SCORE_TOLERANCE = 1e-4  # same kernels, work split differently
CALL = """
const [method, arg, done] = arguments;
window.selftest[method](arg).then(
  (value) => done({ value }),
  (error) => done({ error: String(error && error.stack || error) }),
);
"""


def test_enough_fixtures():
    kinds = {name.split("_")[0] for name in IMAGES}
    assert len(IMAGES) >= 30, f"only {len(IMAGES)} parity fixtures; run tests/fixtures/parity/make_fixtures.py"
    assert kinds >= {"real", "fake", "noface", "multi", "odd", "large", "alpha", "grey"}


@pytest.fixture(scope="module")
def python_scored() -> dict:
    """name -> (image size, scoring.classifier.ImageScore) on the Python path."""
    from scoring.classifier import Classifier
    from scoring.faces import load_image

    classifier = Classifier()
    scored = {}
    for name in IMAGES:
        rgb = load_image((PARITY_DIR / name).read_bytes())
        scored[name] = ((rgb.shape[1], rgb.shape[0]), classifier.score_image(rgb))
    return scored


@pytest.fixture(scope="module")
def python_results(python_scored) -> dict[str, Result]:
    return {
        name: Result(*size, [(f.box, f.score) for f in scored.faces])
        for name, (size, scored) in python_scored.items()
    }


def call(browser, method: str, arg):
    reply = browser.driver.execute_async_script(CALL, method, arg)
    if "error" in reply:
        raise AssertionError(f"selftest.{method}({arg!r}) failed in the browser: {reply['error']}")
    return reply["value"]


def wasm_threads_for(cores: int) -> int:
    """lib/scorer.js's rule: a wasm thread per logical core but one (left to the page), 1 to 4."""
    return max(1, min(cores - 1, 4))


def browser_result(reply: dict) -> Result:
    faces = [(tuple(f["box"]), f["score"]) for f in reply["faces"]]
    return Result(reply["image"]["width"], reply["image"]["height"], faces)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    dist = build_extension(tmp_path_factory.mktemp("extension") / "dist", selftest=True)
    with serve_folder(PARITY_DIR) as base_url, extension_browser(dist) as browser:
        browser.driver.set_script_timeout(SCRIPT_TIMEOUT_S)
        browser.open("selftest.html")
        browser.base_url = base_url
        yield browser


def score_in_browser(browser, backend: str | None, names: list[str]) -> tuple[str, dict[str, dict]]:
    loaded = call(browser, "load", backend)
    return loaded["backend"], {name: call(browser, "score", browser.base_url + name) for name in names}


@pytest.fixture(scope="module")
def wasm_results(browser) -> dict[str, dict]:
    backend, results = score_in_browser(browser, "wasm", IMAGES)
    assert backend == "wasm"
    return results


@pytest.mark.parametrize("name", IMAGES)
def test_browser_matches_python(name, python_results, wasm_results):
    check_parity(name, python_results[name], browser_result(wasm_results[name]))


@pytest.mark.parametrize("name", IMAGES)
def test_browser_tells_black_and_white_faces_as_python_does(name, python_scored, wasm_results):
    browser_faces = wasm_results[name]["faces"]
    for face in python_scored[name][1].faces:
        # the browser's face nearest this one (test_browser_matches_python holds the boxes together)
        nearest = min(browser_faces, key=lambda f: sum(abs(a - b) for a, b in zip(f["box"], face.box)))
        assert nearest["greyscale"] is face.greyscale, (name, face, nearest)


@pytest.mark.parametrize("name", DEFAULT_BACKEND_IMAGES)
def test_default_backend_matches_python(name, python_results, browser, wasm_results):
    backend, results = score_in_browser(browser, None, [name])
    assert backend in ("webgl", "wasm", "cpu")
    check_parity(f"{name} ({backend} backend)", python_results[name], browser_result(results[name]))


def test_wasm_runs_on_the_threads_this_machine_allows(browser, wasm_results):
    loaded = call(browser, "load", "wasm")
    assert loaded["threads"] == wasm_threads_for(loaded["cores"]), (
        f"wasm started on {loaded['threads']} thread(s) with {loaded['cores']} logical cores; a threaded "
        "start that fails falls back to one thread after a timeout (see the page's console)"
    )


@contextmanager
def fresh_tab(browser, cores: int | None = None):
    """selftest.html in a new tab (a TF.js of its own), reporting `cores` logical cores if given; closed after."""
    driver = browser.driver
    home = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        if cores:
            driver.execute_cdp_cmd("Emulation.setHardwareConcurrencyOverride", {"hardwareConcurrency": cores})
        browser.open("selftest.html")
        yield
    finally:
        driver.close()
        driver.switch_to.window(home)


def test_threaded_wasm_starts_and_scores_as_one_thread_does(browser):
    runs = {}
    for label, cores, threads in (("one thread", None, 1), ("threaded", EMULATED_CORES, None)):
        with fresh_tab(browser, cores):
            loaded = call(browser, "load", {"backend": "wasm", "threads": threads})
            scored = {name: call(browser, "score", browser.base_url + name) for name in THREADED_IMAGES}
            runs[label] = (loaded["threads"], scored)
    assert runs["one thread"][0] == 1
    # its workers and their script load from wasm/ under the extension's CSP, or it would time out to 1
    assert runs["threaded"][0] == wasm_threads_for(EMULATED_CORES), "threaded wasm fell back to one thread"
    for name in THREADED_IMAGES:
        one, threaded = (runs[label][1][name]["faces"] for label in ("one thread", "threaded"))
        assert one and len(threaded) == len(one), name
        for a, b in zip(one, threaded):
            assert a["box"] == pytest.approx(b["box"], abs=1e-3), name
            assert abs(a["score"] - b["score"]) <= THREADED_SCORE_TOLERANCE, (name, a["score"], b["score"])


@pytest.mark.parametrize("name", IMAGES)
def test_browser_image_verdict_is_its_most_suspicious_face(name, wasm_results):
    reply = wasm_results[name]
    info = reply["info"]
    scores = [f["score"] for f in reply["faces"]]
    expected = "no_face"
    if scores:
        worst = max(reply["faces"], key=lambda f: f["score"])
        band = info["greyscale"]["uncertain_band"] if worst["greyscale"] else info["uncertain_band"]
        expected = verdict_for(worst["score"], info["threshold"], band)
    assert (reply["verdict"], reply["score"]) == (expected, max(scores) if scores else None)


@pytest.mark.parametrize("names", [["real_portrait_grace_hopper.jpg", "noface_logo_matplotlib.png",
                                     "multi_grid_3x2.jpg", "large_2000x1500.jpg"]])
def test_scoring_leaves_no_tensors_behind(names, browser, wasm_results):
    call(browser, "load", "wasm")
    before = call(browser, "tensors", None)
    for name in names * 2:
        call(browser, "score", browser.base_url + name)
    assert call(browser, "tensors", None) == before, "scoreImage leaks tensors: wrap them in tf.tidy or dispose them"


# (score, threshold, band): on and either side of each edge
VERDICT_CASES = [
    (0.2, 0.5, (0.4, 0.6)),
    (0.4, 0.5, (0.4, 0.6)),
    (0.5, 0.5, (0.4, 0.6)),
    (0.6, 0.5, (0.4, 0.6)),
    (0.59999, 0.5, (0.4, 0.6)),
    (0.39999, 0.5, (0.4, 0.6)),
    (0.7, 0.7, (0.7, 0.7)),
    (0.69, 0.7, (0.7, 0.7)),
    (1.0, 0.498, (0.498, 1.0)),
    (0.0, 0.0, (0.0, 0.0)),
]


@pytest.mark.parametrize(("score", "threshold", "band"), VERDICT_CASES)
def test_browser_verdict_rule_is_pythons(score, threshold, band, browser):
    got = call(browser, "verdictFor", [score, threshold, list(band)])
    assert got == verdict_for(score, threshold, band), f"verdictFor({score}, {threshold}, {band})"
