"""The extension in a real browser: headless Chromium with extension/ built and
loaded unpacked, pages on one loopback origin, their images on another
(served without CORS headers), and a real scoring backend where a test needs one.

One browser for the module: the model loads once. Settings are cleared
before each test. Screenshots of a badged page and a panel go to pytest's tmp folders.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
import statistics
import sys
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness.servers import ACCESS_LINE, free_port, running_server
from harness.browser import build_extension, extension_browser, serve_folder, serve_signed_in_only
from harness.devtools import DevTools

pytestmark = pytest.mark.browser  # headless Chromium (scripts/test.sh installs it)
REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
FACE_ROWS = list(csv.DictReader((FIXTURES / "faces" / "manifest.csv").read_text().splitlines()))
NON_FACES = ["photos/landscape_china.jpg", "photos/logo_matplotlib.png"]
PORTRAIT = "photos/portrait_grace_hopper.jpg"
LANDSCAPE = "photos/landscape_china.jpg"
REAL_FACE = "faces/real/lfw_faceswap_real_3459.jpg"
FAKE_FACE = "faces/fake/stylegan_ffhq_01R3N4195O.jpg"

WINDOW = (1280, 1000)
FINAL = {"real", "fake", "uncertain", "no-face", "error"}
MENU_ITEM = "dfd-check-image"  # the context menu item's id in service-worker.js
TOKEN = "extension-test-token"
# first verdicts include loading the model in the offscreen document on 2 busy cores
VERDICT_TIMEOUT_S = 120
# the promise: the panel's verdict "within a second for a typical image"
PANEL_BUDGET_MS = 1000
BADGE_LABELS = {"real": "Real", "fake": "Fake", "uncertain": "Uncertain", "no-face": "No face", "error": "Error"}


# ---------------------------------------------------------------- pages

def page(title: str, body: str, style: str = "", script: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>body{{margin:0;font:14px sans-serif}} {style}</style></head>"
        f"<body>{body}<script>{script}</script></body></html>"
    )


def write_pages(folder: Path, images: str) -> None:
    """The test pages; `images` is the other origin's base URL."""
    grid = "img{width:150px;height:150px;object-fit:contain;margin:4px}"
    faces = "".join(
        f"<img id='face-{i}' data-expect='{row['label']}' src='{images}faces/{row['path']}'>"
        for i, row in enumerate(FACE_ROWS)
    )
    others = "".join(f"<img id='other-{i}' data-expect='no-face' src='{images}{p}'>" for i, p in enumerate(NON_FACES))
    (folder / "verdicts.html").write_text(page("Verdicts", faces + others, grid))

    (folder / "layout.html").write_text(page(
        "Hostile styles",
        f"<div class='row'><img id='left' src='{images}{PORTRAIT}'>"
        f"<img id='right' src='{images}{REAL_FACE}'></div>"
        "<div class='badge' id='page-badge'>the page's own .badge</div>"
        f"<p><img id='below' src='{images}{FAKE_FACE}'></p>",
        # a page that styles everything hard, and classes named like ours
        "* { font-size: 40px !important; color: lime !important; letter-spacing: 9px !important; }"
        " div, span { background: yellow !important; }"
        " .badge, .panel { display: block !important; background: rgb(1, 2, 3) !important;"
        " border-radius: 0 !important; }"
        " dfd-overlay { display: none !important; }"
        " .row { display: flex; } img { width: 200px; height: 200px; display: block; }"
        " #right { margin-left: auto; }",
        # the layout before any extension code runs (content scripts start at document_idle)
        "window.layoutBefore = null; document.addEventListener('DOMContentLoaded', () => {"
        " window.layoutBefore = window.snapshotLayout(); });"
        " window.snapshotLayout = () => ({"
        "  images: [...document.images].map(i => { const r = i.getBoundingClientRect();"
        "   return [i.id, r.x, r.y, r.width, r.height]; }),"
        "  scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],"
        "  pageBadge: (s => [s.backgroundColor, s.fontSize, s.borderRadius])("
        "   getComputedStyle(document.getElementById('page-badge'))) });",
    ))

    (folder / "lazy.html").write_text(page(
        "Lazy and later images",
        f"<img id='srcset' srcset='{images}{REAL_FACE} 1x'>"
        f"<picture><source id='picture-source' srcset='{images}{FAKE_FACE}'>"
        f"<img id='picture' src='{images}{LANDSCAPE}'></picture>"
        f"<img id='tiny' class='tiny' src='{images}{PORTRAIT}'>"
        "<div id='top'></div>"
        "<div style='height:1600px'></div>"
        f"<img id='native-lazy' loading='lazy' src='{images}faces/real/dfdc_okhugxlaoa.jpg'>"
        "<div style='height:1400px'></div>"
        f"<img id='js-lazy' data-src='{images}faces/fake/dfdc_vdohwdkefq.jpg'>"
        "<div style='height:1400px'></div>"
        "<div id='feed'></div><div id='sentinel' style='height:4px'></div>",
        "img{width:160px;height:160px;display:block;margin:6px} img.tiny{width:40px;height:40px}",
        # a hand-written lazy loader, an insertion after load, and an infinite feed
        "new IntersectionObserver((es, io) => es.forEach(e => { if (e.isIntersecting) {"
        "  e.target.src = e.target.dataset.src; io.unobserve(e.target); } }), {rootMargin: '100px'})"
        "  .observe(document.getElementById('js-lazy'));"
        "setTimeout(() => { const img = document.createElement('img'); img.id = 'later';"
        f"  img.src = '{images}faces/real/lfw_faceswap_real_6304.jpg';"
        "  document.getElementById('top').append(img); }, 1500);"
        "let fed = 0; new IntersectionObserver(es => { if (es[0].isIntersecting && fed < 2) {"
        "  fed += 1; const box = document.createElement('div');"
        f"  box.innerHTML = `<img id='feed-${{fed}}' src='{images}faces/fake/lfw_faceswap_fake_1549.jpg?feed=${{fed}}'>`;"
        "  document.getElementById('feed').append(box); } }).observe(document.getElementById('sentinel'));",
    ))

    # a large photo (over 4x the model's input) whose one face is small
    portrait = Image.open(FIXTURES / PORTRAIT).convert("RGB")
    crowd = Image.new("RGB", (900, 900), (120, 130, 140))
    crowd.paste(portrait.resize((300, 352)), (300, 270))
    crowd.save(folder / "large-small-face.jpg", quality=92)

    many = "".join(f"<img src='{images}{LANDSCAPE}'>" for _ in range(600))
    (folder / "many.html").write_text(page("Hundreds of images", many, "img{width:100px;height:100px;margin:2px}"))


@dataclass
class Sites:
    pages: str  # http://127.0.0.1:A/
    images: str  # http://localhost:B/ : another origin, no CORS headers
    folder: Path

    def url(self, name: str) -> str:
        return self.pages + name

    def add_page(self, name: str, html: str) -> str:
        (self.folder / name).write_text(html)
        return self.url(name)


@dataclass
class Backend:
    base: str
    log_path: Path

    def requests_seen(self) -> int:
        """Every request the backend has logged (any path)."""
        return len(ACCESS_LINE.findall(self.log_path.read_text(errors="replace")))

    def score(self, path: str, explain: bool = False) -> dict:
        answer = requests.post(
            f"{self.base}/api/v1/score" + ("?explain=1" if explain else ""),
            files={"image": (Path(path).name, (FIXTURES / path).read_bytes())},
            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120,
        )
        answer.raise_for_status()
        return answer.json()


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    return build_extension(tmp_path_factory.mktemp("extension") / "dist")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    with ExitStack() as stack:
        images = stack.enter_context(serve_folder(FIXTURES, cors=False))
        pages = stack.enter_context(serve_folder(folder))
        images = images.replace("127.0.0.1", "localhost")
        write_pages(folder, images)
        yield Sites(pages, images, folder)


@pytest.fixture(scope="module")
def browser(dist):
    with extension_browser(dist) as b:
        b.driver.set_window_size(*WINDOW)
        b.driver.set_script_timeout(VERDICT_TIMEOUT_S)
        yield b


@pytest.fixture(scope="module")
def tools(browser):
    return DevTools(browser)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("backend") / "server.log"
    command = [sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port)]
    settings = {"DFD_API_TOKEN": TOKEN, "DFD_REPORTS_DB": str(log_path.parent / "reports.sqlite3")}
    with running_server(command, settings, log_path, base, processes=1):
        yield Backend(base, log_path)


@pytest.fixture(autouse=True)
def clean_settings(request):
    """Every test starts from the default settings (and leaves one tab)."""
    if "browser" not in request.fixturenames:
        yield
        return
    tools = request.getfixturevalue("tools")
    tools.evaluate_in_service_worker("chrome.storage.sync.clear()")
    yield
    driver = request.getfixturevalue("browser").driver
    for handle in driver.window_handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(driver.window_handles[0])


# ---------------------------------------------------------------- helpers

def set_settings(tools: DevTools, **values) -> None:
    tools.evaluate_in_service_worker(f"chrome.storage.sync.set({json.dumps(values)})")


def stored_settings(tools: DevTools) -> dict:
    return tools.evaluate_in_service_worker("chrome.storage.sync.get(null)")


READ_IMAGES = """
return [...document.querySelectorAll(arguments[0])].map(i => ({
  id: i.id, verdict: i.getAttribute('data-dfd-verdict'), score: i.getAttribute('data-dfd-score') }));
"""

READ_BADGES = """
const host = document.querySelector('dfd-overlay');
if (!host) return [];
return [...host.shadowRoot.querySelectorAll('.badge')].map(b => {
  const r = b.getBoundingClientRect(), s = getComputedStyle(b);
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return { text: b.textContent, verdict: b.dataset.verdict, title: b.title, hidden: b.hidden,
           x: r.x, y: r.y, w: r.width, h: r.height, fontSize: s.fontSize, display: s.display,
           onTop: hit === host };
});
"""

READ_PANEL = """
const host = document.querySelector('dfd-overlay');
const panel = host && host.shadowRoot.querySelector('[data-dfd-panel]');
if (!panel) return null;
const answers = [...panel.querySelectorAll('.answer')].map(a => ({
  source: a.dataset.source, kind: a.dataset.kind, verdict: a.dataset.verdict, score: a.dataset.score,
  faces: Number(a.dataset.faces), elapsedMs: a.dataset.elapsedMs === undefined ? null : Number(a.dataset.elapsedMs),
  heatmaps: a.querySelectorAll('img.heatmap').length, text: a.innerText }));
const r = panel.getBoundingClientRect();
const note = panel.querySelector('[data-role=full-res-note]');
return { state: panel.dataset.state, answers, text: panel.innerText,
         note: note && note.innerText, button: !!panel.querySelector('[data-action=full-resolution]'),
         rect: [r.x, r.y, r.width, r.height] };
"""


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def images(driver, selector: str = "img[id]") -> dict[str, dict]:
    return {i["id"]: i for i in driver.execute_script(READ_IMAGES, selector)}


def wait_for_verdicts(driver, ids, timeout: float = VERDICT_TIMEOUT_S) -> dict[str, dict]:
    """Wait until each image id carries a final verdict; returns them all."""
    def done():
        seen = images(driver)
        return seen if all(seen.get(i, {}).get("verdict") in FINAL for i in ids) else None

    try:
        return wait_until(done, timeout, f"verdicts on {sorted(ids)}")
    except AssertionError:
        raise AssertionError(f"no final verdicts: { {i: images(driver).get(i) for i in ids} }") from None


def context_menu_click(tools: DevTools, src: str) -> str:
    """Call the handler the "Check for deepfake" menu calls, for the active tab."""
    return tools.evaluate_in_service_worker(
        "(async () => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
        f" return handleContextMenuClick({{ menuItemId: '{MENU_ITEM}', srcUrl: {json.dumps(src)},"
        " frameId: 0, pageUrl: tab.url }, tab); })()"
    )


def wait_for_panel(driver, done=lambda p: p["state"] != "loading", timeout: float = VERDICT_TIMEOUT_S) -> dict:
    return wait_until(lambda: (p := driver.execute_script(READ_PANEL)) and done(p) and p, timeout, "the panel")


def active_tab_id(tools: DevTools) -> int:
    return tools.evaluate_in_service_worker(
        "chrome.tabs.query({ active: true, lastFocusedWindow: true }).then(([t]) => t.id)")


# ---------------------------------------------------------------- the build

def static_imports(dist, script: str) -> set[str]:
    """The files `script` loads before it runs: its static imports, theirs, and so on."""
    seen, todo = set(), [script]
    while todo:
        path = dist / todo.pop()
        for name in re.findall(rb'(?:from|import)\s*"\./(?:chunks/)?([\w.-]+\.js)"', path.read_bytes()):
            found = f"chunks/{name.decode()}"
            if found not in seen:
                seen.add(found)
                todo.append(found)
    return seen


def test_the_shipped_build_holds_one_tfjs_and_no_self_test_page(dist):
    """The self-test page (and the copy of TF.js it bundles) is for tests and benchmarks only."""
    assert not list(dist.glob("selftest*")), sorted(p.name for p in dist.iterdir())
    # a string only TF.js's core holds (the page parameter of its flags): which bundles carry a copy
    with_tfjs = sorted(str(p.relative_to(dist)) for p in dist.rglob("*.js") if b"tfjsflags" in p.read_bytes())
    # one chunk, which the scorer workers import, and the offscreen document only where it scores itself
    assert len(with_tfjs) == 1 and with_tfjs[0].startswith("chunks/"), with_tfjs
    worker_loads = static_imports(dist, "scorer-worker.js")
    assert with_tfjs[0] in worker_loads
    # the webgl backend (the only code that asks for a "webgl2" context, besides the offscreen
    # document's GPU check) is a chunk of its own, which the wasm workers never load at start
    webgl = sorted(str(p.relative_to(dist)) for p in (dist / "chunks").glob("*.js") if b"webgl2" in p.read_bytes())
    assert len(webgl) == 1 and webgl[0] not in worker_loads, (webgl, sorted(worker_loads))


# ---------------------------------------------------------------- verdicts

@pytest.fixture(scope="module")
def verdicts(browser, sites, tools, tmp_path_factory):
    """The fixture faces, a landscape and a logo, badged on a page of another origin."""
    driver = browser.driver
    tools.evaluate_in_service_worker("chrome.storage.sync.clear()")
    driver.get(sites.url("verdicts.html"))
    ids = [f"face-{i}" for i in range(len(FACE_ROWS))] + [f"other-{i}" for i in range(len(NON_FACES))]
    seen = wait_for_verdicts(driver, ids)
    badges = driver.execute_script(READ_BADGES)
    shot = tmp_path_factory.mktemp("screenshots") / "extension-badges.png"
    driver.save_screenshot(str(shot))
    return seen, badges, shot


@pytest.mark.parametrize("index,row", list(enumerate(FACE_ROWS)), ids=[r["path"] for r in FACE_ROWS])
def test_fixture_faces_get_their_label(verdicts, index, row):
    """On the right side of the threshold; inside the uncertain band the honest answer is "uncertain".

    Regression pin, not accuracy evidence: the fixture faces are ones the shipped model
    scores right (misjudged ones were swapped out, tests/fixtures/README.md).
    """
    seen, _, _ = verdicts
    got = seen[f"face-{index}"]
    info = json.loads((REPO / "extension" / "model" / "model-info.json").read_text())
    score, (low, high) = float(got["score"]), info["uncertain_band"]
    assert ("fake" if score >= info["threshold"] else "real") == row["label"], f"{row['path']}: {got}"
    assert got["verdict"] == ("uncertain" if low <= score < high else row["label"]), f"{row['path']}: {got}"


# (settings, verdict) for a real face turned black-and-white, which scores
# between the colour band's top and the greyscale band's top
GREY_FACE_CASES = [
    ({}, "uncertain"),  # the model's wider band for black-and-white faces
    ({"uncertainBand": [0.3, 0.5]}, "fake"),  # a band the user set applies to every face
]


@pytest.mark.parametrize(("settings", "verdict"), GREY_FACE_CASES, ids=["model band", "user band"])
def test_black_and_white_faces_get_the_wider_band(browser, sites, tools, settings, verdict):
    driver = browser.driver
    info = json.loads((REPO / "extension" / "model" / "model-info.json").read_text())
    Image.open(FIXTURES / "faces" / "real" / "dfdc_tblxwzpbdy.jpg").convert("L").save(sites.folder / "grey-real.png")
    set_settings(tools, **settings)
    driver.get(sites.add_page("grey.html", page("Black and white", "<img id='grey' src='grey-real.png'>",
                                                "img{width:200px;height:200px}")))
    got = wait_for_verdicts(driver, ["grey"])["grey"]
    score = float(got["score"])
    assert info["uncertain_band"][1] <= score < info["greyscale"]["uncertain_band"][1], got
    assert got["verdict"] == verdict, got
    assert context_menu_click(tools, sites.url("grey-real.png")) == "panel"
    panel = wait_for_panel(driver, lambda p: p["state"] == "done")
    assert panel["answers"][0]["verdict"] == verdict and "black-and-white" in panel["text"], panel


@pytest.mark.parametrize("index,path", list(enumerate(NON_FACES)), ids=NON_FACES)
def test_landscape_and_logo_have_no_face(verdicts, index, path):
    seen, _, _ = verdicts
    got = seen[f"other-{index}"]
    assert got["verdict"] == "no-face", f"{path}: {got}"
    assert got["score"] == ""


def test_every_image_has_a_badge_on_top_that_says_its_verdict(verdicts):
    seen, badges, shot = verdicts
    assert len(badges) == len(seen)
    assert sorted(b["verdict"] for b in badges) == sorted(i["verdict"] for i in seen.values())
    for badge in badges:
        assert not badge["hidden"] and badge["w"] > 0 and badge["onTop"], badge
        assert badge["text"].startswith(BADGE_LABELS[badge["verdict"]]), badge
        if badge["verdict"] in ("fake", "uncertain"):
            assert badge["text"].split(" ")[1].endswith("%"), badge
    assert shot.stat().st_size > 10_000


# ---------------------------------------------------------------- layout and styles

def test_badges_neither_move_the_page_nor_share_its_styles(browser, sites):
    driver = browser.driver
    driver.get(sites.url("layout.html"))
    wait_for_verdicts(driver, ["left", "right", "below"])
    before = driver.execute_script("return window.layoutBefore")
    after = driver.execute_script("return window.snapshotLayout()")
    assert before is not None
    assert after == before  # same image boxes, same scroll size, page's .badge untouched
    badges = driver.execute_script(READ_BADGES)
    assert len(badges) == 3
    for badge in badges:
        # the page's `* { font-size: 40px !important }` and `dfd-overlay { display: none }` do not reach
        assert badge["fontSize"] == "11px" and badge["w"] > 0 and badge["onTop"], badge
    rights = {i[0]: i for i in after["images"]}["right"]
    right_badge = min(badges, key=lambda b: abs(b["x"] - rights[1]))
    # a badge stays inside its image: no horizontal scrollbar at the page's edge
    assert right_badge["x"] + right_badge["w"] <= rights[1] + rights[3] + 0.5

    # a click on a badge opens the panel, styled as ours despite the page's CSS
    click_badge(driver)
    panel = wait_for_panel(driver, lambda p: p["state"] == "done")
    assert panel["rect"][2] == 320 and panel["answers"][0]["verdict"] in FINAL, panel
    assert driver.execute_script("return window.snapshotLayout()") == before


# ---------------------------------------------------------------- lazy and later images

def test_lazy_later_and_switched_images_get_badged(browser, sites):
    driver = browser.driver
    driver.get(sites.url("lazy.html"))
    wait_for_verdicts(driver, ["srcset", "picture", "later"])
    assert images(driver)["tiny"]["verdict"] is None  # under 64 px: never badged
    # a reader scrolls down, stopping at each picture, and the feed grows at the end
    for target in ["native-lazy", "js-lazy"]:
        driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'center'})", target)
        wait_for_verdicts(driver, [target])
    for fed in ["feed-1", "feed-2"]:
        driver.execute_script("window.scrollBy(0, -800)")
        time.sleep(0.3)
        driver.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
        wait_for_verdicts(driver, [fed])
    seen = images(driver)
    assert all(seen[i]["verdict"] != "no-face" for i in ["native-lazy", "js-lazy", "feed-1", "feed-2"]), seen

    # srcset and <picture> switch from a face to a landscape: the verdict follows the picture
    driver.execute_script("window.scrollTo(0, 0)")
    first = images(driver)
    assert first["srcset"]["verdict"] != "no-face" and first["picture"]["verdict"] != "no-face", first
    driver.execute_script(
        "document.getElementById('srcset').srcset = arguments[0] + ' 1x';"
        "document.getElementById('picture-source').srcset = arguments[0];",
        sites.images + LANDSCAPE,
    )
    wait_until(
        lambda: all(images(driver)[i]["verdict"] == "no-face" for i in ["srcset", "picture"]),
        VERDICT_TIMEOUT_S, "verdicts for the switched pictures",
    )


def test_data_and_blob_images_are_scored_like_their_url(browser, sites):
    driver = browser.driver
    inline = "data:image/jpeg;base64," + base64.b64encode((FIXTURES / REAL_FACE).read_bytes()).decode()
    url = sites.add_page("inline.html", page(
        "Inline images",
        f"<img id='http' src='{sites.images}{REAL_FACE}?inline'><img id='data' src='{inline}'><img id='blob'>",
        "img{width:200px;height:200px}",
        # a blob: URL only this page can read
        f"fetch('{inline}').then(r => r.blob()).then(b => {{"
        " document.getElementById('blob').src = URL.createObjectURL(b); });",
    ))
    driver.get(url)
    seen = wait_for_verdicts(driver, ["http", "data", "blob"])
    assert seen["http"]["verdict"] in {"real", "fake", "uncertain"}, seen
    assert seen["data"]["verdict"] == seen["blob"]["verdict"] == seen["http"]["verdict"], seen
    assert seen["data"]["score"] == seen["blob"]["score"] == seen["http"]["score"], seen


def test_hundreds_of_images_only_those_in_view_are_scanned(browser, sites):
    driver = browser.driver
    driver.get(sites.url("many.html"))
    count = driver.execute_script("return document.images.length")
    wait_until(
        lambda: (v := [i["verdict"] for i in driver.execute_script(READ_IMAGES, "img")])
        and v[0] in FINAL and "scanning" not in v,
        VERDICT_TIMEOUT_S, "the first screenful",
    )
    marked = sum(1 for i in driver.execute_script(READ_IMAGES, "img") if i["verdict"])
    # a 1280x1000 window (and 200 px beyond) holds about 12 x 11 of these; the rest wait
    assert 0 < marked < count / 2, marked
    driver.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
    wait_until(lambda: driver.execute_script(READ_IMAGES, "img")[-1]["verdict"] == "no-face",
               VERDICT_TIMEOUT_S, "the last image, once scrolled to")


@contextmanager
def in_frame(driver, path: list[str]):
    """Inside the frame reached through the iframe ids in `path`; back at the top page after."""
    driver.switch_to.default_content()
    for frame in path:
        driver.switch_to.frame(driver.find_element(By.ID, frame))
    try:
        yield
    finally:
        driver.switch_to.default_content()


def frame_verdicts(driver, path: list[str], ids: list[str]) -> dict[str, dict]:
    """Verdicts inside the frame reached through `path`, with the frame's badge count."""
    with in_frame(driver, path):
        seen = wait_for_verdicts(driver, ids)
        return {i: {**seen[i], "badges": len(driver.execute_script(READ_BADGES))} for i in ids}


def test_images_in_frames_get_badges_counted_and_switched_with_the_page(browser, sites, tools):
    """An embedded post (a frame from another site, with a frame inside it) is badged like the
    page; the popup counts its pictures, and the page's site switch turns its badges off."""
    driver = browser.driver
    embeds = sites.pages.replace("127.0.0.1", "localhost")  # another origin than the page
    sites.add_page("inner.html", page("Inner", f"<img id='inner-fake' src='{sites.images}{FAKE_FACE}'>",
                                      "img{width:150px;height:150px}"))
    sites.add_page("embed.html", page(
        "Embedded post",
        f"<img id='embed-real' src='{sites.images}{REAL_FACE}'>"
        f"<img id='embed-landscape' src='{sites.images}{LANDSCAPE}'>"
        f"<iframe id='inner' src='{embeds}inner.html' width='300' height='220'></iframe>",
        "img{width:150px;height:150px}",
    ))
    url = sites.add_page("framed.html", page(
        "A page that embeds a post",
        f"<img id='page-real' src='{sites.images}{REAL_FACE}?page'>"
        f"<iframe id='embed' src='{embeds}embed.html' width='700' height='500'></iframe>"
        # an ad slot: a frame with no URL of its own, written by the page
        f"<iframe id='ad' width='200' height='200' srcdoc=\"<img id='ad-fake' src='{sites.images}{FAKE_FACE}?ad'"
        " style='width:150px;height:150px'>\"></iframe>",
        "img{width:150px;height:150px}",
    ))
    driver.get(url)
    on_page = wait_for_verdicts(driver, ["page-real"])["page-real"]
    outer = frame_verdicts(driver, ["embed"], ["embed-real", "embed-landscape"])
    inner = frame_verdicts(driver, ["embed", "inner"], ["inner-fake"])
    ad = frame_verdicts(driver, ["ad"], ["ad-fake"])
    assert (ad["ad-fake"]["verdict"], ad["ad-fake"]["score"]) == (inner["inner-fake"]["verdict"], inner["inner-fake"]["score"])
    # the same picture scores the same in a frame as on the page
    assert (outer["embed-real"]["verdict"], outer["embed-real"]["score"]) == (on_page["verdict"], on_page["score"])
    assert outer["embed-landscape"]["verdict"] == "no-face", outer
    label = next(row["label"] for row in FACE_ROWS if "faces/" + row["path"] == FAKE_FACE)
    assert inner["inner-fake"]["verdict"] in {label, "uncertain"}, inner
    assert outer["embed-real"]["badges"] == 2 and inner["inner-fake"]["badges"] == 1, (outer, inner)

    # the popup sums the page and its frames: five pictures
    page_tab = driver.current_window_handle
    tab_id = active_tab_id(tools)
    driver.switch_to.new_window("tab")
    driver.get(browser.url(f"popup.html?tab={tab_id}"))
    verdicts = [on_page["verdict"], outer["embed-real"]["verdict"], "no-face"] + [inner["inner-fake"]["verdict"]] * 2
    expected = {"scanned": "5", "fake": str(verdicts.count("fake")), "uncertain": str(verdicts.count("uncertain"))}
    read = "return Object.fromEntries([...document.querySelectorAll('[data-stat]')].map(n => [n.dataset.stat, n.textContent]))"
    wait_until(lambda: driver.execute_script(read) == expected, 10, f"the popup's counts {expected}")
    assert driver.find_element(By.ID, "host").text == "127.0.0.1"  # the page's site, not the frames'

    driver.find_element(By.ID, "site-badges").click()  # off on this site: in its frames too
    wait_until(lambda: stored_settings(tools).get("siteBadges") == {"127.0.0.1": False}, 10, "the site switch")
    driver.switch_to.window(page_tab)

    def frame_badges(path):
        with in_frame(driver, path):
            return len(driver.execute_script(READ_BADGES))

    wait_until(lambda: frame_badges(["embed"]) == frame_badges(["embed", "inner"]) == frame_badges(["ad"]) == 0,
               10, "frame badges to go")


# ---------------------------------------------------------------- context menu and panel

def test_context_menu_shows_the_panel_beside_the_image_within_a_second(browser, sites, tools):
    driver = browser.driver
    set_settings(tools, siteBadges={"127.0.0.1": False})  # no auto-badges: the menu does the first check
    names = ["warm-up", "portrait", "real", "fake"]
    sources = [LANDSCAPE, PORTRAIT, REAL_FACE, FAKE_FACE]
    url = sites.add_page("panel.html", page("Panel", "".join(
        f"<img id='{n}' src='{sites.images}{p}?panel={n}'>" for n, p in zip(names, sources)
    ), "img{width:220px;height:220px;margin:10px}"))
    driver.get(url)
    elapsed = {}
    for name in names:
        src = driver.execute_script("return document.getElementById(arguments[0]).currentSrc", name)
        assert context_menu_click(tools, src) == "panel"
        panel = wait_for_panel(driver, lambda p: p["state"] == "done")
        answer = panel["answers"][0]
        img = images(driver)[name]
        assert answer["source"] == "browser" and answer["verdict"] == img["verdict"], (panel, img)
        assert (answer["faces"] == 0) == (name == "warm-up"), panel
        rect = driver.execute_script(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect(); return [r.x, r.y, r.width, r.height]", name)
        # beside the image, not over it
        assert panel["rect"][0] >= rect[0] + rect[2] or panel["rect"][0] + panel["rect"][2] <= rect[0], (panel, rect)
        elapsed[name] = answer["elapsedMs"]
    typical = statistics.median(elapsed[n] for n in names[1:])
    print(f"panel time-to-verdict (ms): {elapsed}")
    assert typical < PANEL_BUDGET_MS, elapsed
    assert images(driver)["portrait"]["verdict"] in FINAL  # the panel's check marks the image too


def test_context_menu_opens_a_result_tab_where_the_page_cannot_host_the_panel(browser, sites, tools, tmp_path):
    driver = browser.driver
    # content scripts do not run in file: pages, so there is no panel to show
    local = tmp_path / "local.html"
    local.write_text(page("Local file", f"<img id='portrait' src='{sites.images}{PORTRAIT}'>"))
    driver.get(local.as_uri())
    assert context_menu_click(tools, sites.images + PORTRAIT) == "tab"
    tab = wait_until(lambda: tools.pages(browser.url("result.html")), 10, "the result tab")[0]
    assert tab["url"] == browser.url("result.html?src=" + quote(sites.images + PORTRAIT, safe=""))
    panel = wait_until(
        lambda: tools.evaluate(tab["targetId"],
            "(() => { const p = document.querySelector('[data-dfd-panel]');"
            " return p && p.dataset.state !== 'loading'"
            " && { text: p.innerText, verdict: p.querySelector('.answer')?.dataset.verdict }; })()"),
        VERDICT_TIMEOUT_S, "the result tab's verdict",
    )
    assert panel["verdict"] in {"real", "fake", "uncertain"}, panel
    tools.close_page(tab["targetId"])


# (what opens the panel, whether the image may then go out with the site's cookies):
# the context menu's check is the one gesture that earns them, as README says
LOGIN_GESTURES = [("context menu", True), ("badge click", False)]


def click_badge(driver) -> None:
    driver.find_element(By.CSS_SELECTOR, "dfd-overlay").shadow_root.find_element(By.CSS_SELECTOR, ".badge").click()


@pytest.mark.parametrize(("gesture", "with_cookies"), LOGIN_GESTURES, ids=[g for g, _ in LOGIN_GESTURES])
def test_an_image_behind_a_login_is_fetched_with_it_only_from_the_context_menu(browser, tools, gesture, with_cookies):
    driver = browser.driver
    with serve_signed_in_only(FIXTURES) as site:
        driver.get(site.base + "sign-in")
        url = site.add_page("private.html", page("Signed in", f"<img id='private' src='/{REAL_FACE}'>",
                                                 "img{width:220px;height:220px}"))
        driver.get(url)
        src = site.base + REAL_FACE
        assert driver.execute_script("return document.getElementById('private').naturalWidth") > 0

        # the badge: fetched without cookies, refused, and it says what to do
        assert wait_for_verdicts(driver, ["private"])["private"]["verdict"] == "error"
        [badge] = driver.execute_script(READ_BADGES)
        assert "signed-in" in badge["title"] and "Check for deepfake" in badge["title"], badge
        by_extension = [r for r in site.requests if r.by_fetch]
        assert by_extension and not any(r.signed_in for r in by_extension), site.requests

        if gesture == "context menu":
            assert context_menu_click(tools, src) == "panel"
        else:
            click_badge(driver)
        answer = wait_for_panel(driver, lambda p: p["state"] == "done")["answers"][0]
        with_cookie = [r.path for r in site.requests if r.by_fetch and r.signed_in]
        if with_cookies:  # asked again with the site's cookie, once, and scored
            assert answer["source"] == "browser" and answer["verdict"] == "real", answer
            assert with_cookie == ["/" + REAL_FACE], site.requests
        else:  # the panel says what the badge said; the cookie never went out
            assert answer["verdict"] == "error" and "signed-in visitors" in answer["text"], answer
            assert with_cookie == [], site.requests


# ---------------------------------------------------------------- service worker

def test_stopping_the_service_worker_mid_page_loses_no_badges(browser, sites, tools):
    driver = browser.driver
    url = sites.add_page("many-faces.html", page("Many faces", "".join(
        f"<img id='n{i}' src='{sites.images}{PORTRAIT}?n={i}'>" for i in range(24)
    ), "img{width:120px;height:120px;margin:2px}"))
    driver.get(url)
    ids = [f"n{i}" for i in range(24)]
    stops = 0
    deadline = time.monotonic() + VERDICT_TIMEOUT_S
    while stops < 4 and time.monotonic() < deadline:
        verdicts = [i["verdict"] for i in images(driver).values()]
        if "scanning" in verdicts:
            stops += tools.stop_service_worker()
            time.sleep(0.3)
        elif all(v in FINAL for v in verdicts):
            break
        else:
            time.sleep(0.1)
    assert stops >= 2, "the page finished before the worker could be stopped twice"
    seen = wait_for_verdicts(driver, ids)
    assert {seen[i]["verdict"] for i in ids} <= {"real", "fake", "uncertain"}, seen
    assert len(driver.execute_script(READ_BADGES)) == len(ids)


# ---------------------------------------------------------------- popup and options

def test_popup_counts_this_page_and_switches_badges_for_the_site(browser, sites, tools):
    driver = browser.driver
    driver.get(sites.url("verdicts.html"))
    seen = wait_for_verdicts(driver, [f"face-{i}" for i in range(len(FACE_ROWS))] + ["other-0", "other-1"])
    page_tab = driver.current_window_handle
    tab_id = active_tab_id(tools)
    driver.switch_to.new_window("tab")
    driver.get(browser.url(f"popup.html?tab={tab_id}"))
    verdicts = [i["verdict"] for i in seen.values()]
    expected = {"scanned": len(verdicts), "fake": verdicts.count("fake"), "uncertain": verdicts.count("uncertain")}
    read = "return Object.fromEntries([...document.querySelectorAll('[data-stat]')].map(n => [n.dataset.stat, n.textContent]))"
    wait_until(lambda: driver.execute_script(read) == {k: str(v) for k, v in expected.items()}, 10,
               f"the popup's counts {expected}")
    site = driver.find_element(By.ID, "site-badges")
    assert site.is_selected() and driver.find_element(By.ID, "host").text == "127.0.0.1"

    site.click()  # off on this site
    wait_until(lambda: stored_settings(tools).get("siteBadges") == {"127.0.0.1": False}, 10, "the site switch")
    driver.switch_to.window(page_tab)
    wait_until(lambda: not driver.execute_script(READ_BADGES) and not any(
        i["verdict"] for i in images(driver).values()), 10, "badges to go")

    driver.switch_to.window([h for h in driver.window_handles if h != page_tab][0])
    driver.find_element(By.ID, "site-badges").click()  # back on
    driver.switch_to.window(page_tab)
    wait_until(lambda: len(driver.execute_script(READ_BADGES)) == len(seen), 30, "badges to come back")


def test_options_start_from_the_model_and_keep_changes_in_sync_storage(browser, dist, tools):
    driver = browser.driver
    info = json.loads((dist / "model" / "model-info.json").read_text())
    browser.open("options.html")
    field = lambda i: driver.find_element(By.ID, i)  # noqa: E731
    wait_until(lambda: field("threshold").get_attribute("value") != "", 10, "the model's threshold")
    assert float(field("threshold").get_attribute("value")) == pytest.approx(info["threshold"])
    assert float(field("band-low").get_attribute("value")) == pytest.approx(info["uncertain_band"][0])
    assert float(field("band-high").get_attribute("value")) == pytest.approx(info["uncertain_band"][1])
    assert info["name"] in field("model-defaults").text

    cases = [("1.5", None, "between 0 and 1"), ("0.7", 0.7, "Saved")]
    for typed, stored, said in cases:
        field("threshold").send_keys(Keys.CONTROL, "a")
        field("threshold").send_keys(typed)
        field("band-low").click()  # leaving the field commits it
        wait_until(lambda s=said: s in field("status").text, 10, f"the status {said!r}")
        assert stored_settings(tools).get("threshold") == stored

    field("backend-url").send_keys("http://127.0.0.1:9/")
    field("api-token").send_keys("t0ken")
    field("never-send").click()
    wait_until(lambda: stored_settings(tools).get("neverSendImages") is True, 10, "the privacy switch")
    kept = stored_settings(tools)
    assert kept["backendUrl"] == "http://127.0.0.1:9" and kept["apiToken"] == "t0ken"
    # nothing goes to a server, not even a health check
    wait_until(lambda: not field("test-backend").is_enabled(), 10, "the connection test to turn off")

    field("new-site").send_keys("news.example")
    field("add-site-off").click()
    wait_until(lambda: stored_settings(tools).get("siteBadges") == {"news.example": False}, 10, "the site list")
    assert "news.example" in field("sites").text


# ---------------------------------------------------------------- with a backend

def test_full_resolution_shows_the_backends_answer(browser, sites, tools, backend, tmp_path):
    driver = browser.driver
    browser.open("options.html")
    driver.find_element(By.ID, "backend-url").send_keys(backend.base)
    driver.find_element(By.ID, "api-token").send_keys(TOKEN)
    driver.find_element(By.ID, "threshold").click()
    wait_until(lambda: stored_settings(tools).get("apiToken") == TOKEN, 10, "the backend settings")

    url = sites.add_page("full.html", page("Full resolution", f"<img id='portrait' src='{sites.images}{PORTRAIT}?full'>",
                                           "img{width:300px;height:auto}"))
    driver.get(url)
    src = driver.execute_script("return document.getElementById('portrait').currentSrc")
    assert context_menu_click(tools, src) == "panel"
    wait_for_panel(driver, lambda p: p["state"] == "done" and p["button"])
    host = driver.find_element(By.CSS_SELECTOR, "dfd-overlay")
    host.shadow_root.find_element(By.CSS_SELECTOR, "[data-action=full-resolution]").click()
    panel = wait_for_panel(driver, lambda p: any(a["kind"] == "full-resolution" for a in p["answers"]))
    server = next(a for a in panel["answers"] if a["kind"] == "full-resolution")
    assert server["source"] == "server"
    driver.save_screenshot(str(tmp_path / "extension-panel.png"))

    direct = backend.score(PORTRAIT, explain=True)
    assert server["verdict"] == direct["verdict"].replace("_", "-")
    assert float(server["score"]) == pytest.approx(direct["score"], abs=1e-4)
    assert server["faces"] == len(direct["faces"]) >= 1
    assert server["heatmaps"] == sum(1 for f in direct["faces"] if f.get("heatmap")) >= 1
    assert "Answer from the server" in server["text"] and direct["model"]["name"] in server["text"]


@pytest.mark.parametrize(
    "case,token,expect_verdict,expect_words",
    [
        ("answered", TOKEN, "server", "server"),
        ("refused", "wrong-token", "uncertain", "server refused"),
        ("down", TOKEN, "uncertain", "server down"),
    ],
)
def test_uncertain_images_go_to_the_backend_and_say_when_it_fails(
    browser, sites, tools, backend, case, token, expect_verdict, expect_words
):
    driver = browser.driver
    url = backend.base if case != "down" else f"http://127.0.0.1:{free_port()}"
    # a band over every score: each face is uncertain in the browser
    set_settings(tools, uncertainBand=[0, 1], backendUrl=url, apiToken=token)
    before = backend.requests_seen()
    driver.get(sites.add_page(f"fallback-{case}.html", page(
        "Fallback", f"<img id='face' src='{sites.images}{REAL_FACE}?fallback={case}'>", "img{width:200px}")))
    got = wait_for_verdicts(driver, ["face"])["face"]
    badge = driver.execute_script(READ_BADGES)[0]
    if expect_verdict == "server":
        direct = backend.score(REAL_FACE)
        assert got["verdict"] == direct["verdict"].replace("_", "-")
        assert float(got["score"]) == pytest.approx(direct["score"], abs=1e-4)
        assert backend.requests_seen() > before
    else:
        assert got["verdict"] == expect_verdict  # the in-browser verdict stands
    assert expect_words in badge["text"], badge


def test_large_images_with_only_small_faces_go_to_the_backend(browser, sites, tools, backend):
    driver = browser.driver
    # an empty band: nothing is uncertain, so only the image's size can call the server
    set_settings(tools, uncertainBand=[0, 0], backendUrl=backend.base, apiToken=TOKEN)
    driver.get(sites.add_page("large.html", page("Large", (
        "<img id='large' src='large-small-face.jpg' style='width:450px'>"
        f"<img id='small' src='{sites.images}{PORTRAIT}?large' style='width:300px'>"
    ))))
    seen = wait_for_verdicts(driver, ["large", "small"])
    badges = {round(b["x"]): b for b in driver.execute_script(READ_BADGES)}
    large_badge, small_badge = badges[min(badges)], badges[max(badges)]
    assert seen["large"]["verdict"] != "no-face" and "server" in large_badge["text"], (seen, large_badge)
    assert "server" not in small_badge["text"], (seen, small_badge)


def test_privacy_switch_keeps_every_request_from_the_backend(browser, sites, tools, backend):
    driver = browser.driver
    set_settings(tools, uncertainBand=[0, 1], backendUrl=backend.base, apiToken=TOKEN, neverSendImages=True)
    before = backend.requests_seen()
    names = [REAL_FACE, FAKE_FACE, PORTRAIT]
    driver.get(sites.add_page("private.html", page("Private", "".join(
        f"<img id='p{i}' src='{sites.images}{p}?private'>" for i, p in enumerate(names)), "img{width:200px}")))
    seen = wait_for_verdicts(driver, ["p0", "p1", "p2"])
    assert {i["verdict"] for i in seen.values()} == {"uncertain"}, seen
    assert not any("server" in b["text"] for b in driver.execute_script(READ_BADGES))

    src = driver.execute_script("return document.getElementById('p2').currentSrc")
    assert context_menu_click(tools, src) == "panel"
    panel = wait_for_panel(driver, lambda p: p["state"] == "done")
    assert not panel["button"] and "Full-resolution checks are off" in panel["note"], panel
    report = driver.find_element(By.CSS_SELECTOR, "dfd-overlay").shadow_root.find_element(
        By.CSS_SELECTOR, "[data-action=report]")
    assert not report.is_enabled() and "off, this browser never sends anything to a server" in report.text
    time.sleep(2)  # anything sent late would show up in the log by now
    assert backend.requests_seen() == before


# ---------------------------------------------------------------- what the file says

READ_PROVENANCE = """
const host = document.querySelector('dfd-overlay');
const root = host && host.shadowRoot;
const panel = root && root.querySelector('[data-dfd-panel]');
const badge = root && [...root.querySelectorAll('.badge')].find(b => !b.hidden);
return {
  mark: badge ? badge.dataset.provenance : null,
  markText: badge && badge.querySelector('.mark') ? badge.querySelector('.mark').textContent : null,
  declared: panel && panel.querySelector('[data-role=declared]') ? panel.querySelector('[data-role=declared]').textContent : null,
  verdict: panel && panel.querySelector('.answer .verdict') ? panel.querySelector('.answer .verdict').textContent : null,
  lines: panel ? [...panel.querySelectorAll('[data-role=provenance] li')].map(li => [li.dataset.kind, li.textContent]) : [],
  search: panel ? [...panel.querySelectorAll('[data-role=image-search] a')].map(a => [a.dataset.site, a.href, a.target, a.rel]) : [],
  searchNote: panel && panel.querySelector('[data-role=image-search] .muted') ? panel.querySelector('[data-role=image-search] .muted').textContent : null,
};
"""

# fixture, badge mark, lines the panel shows (kind: phrase)
PROVENANCE_PANEL = [
    ("c2pa_signed.jpg", "ai", {
        "credentials": "Content Credentials: present (summarised in this browser",
        "claim-generator": "Written by: Deepfake check test fixtures 1.0",
        "action": "Action: created by a generative AI model (Test image generator)"}),
    ("c2pa_tampered.jpg", "ai", {"credentials": "Content Credentials: present"}),
    ("a1111_parameters.png", "ai", {
        "generator": "Generator settings: Stable Diffusion web UI (AUTOMATIC1111) v1.7.0, model sd_xl_base_1.0, "
                     'prompt "portrait of an admiral'}),
    ("comfyui_prompt.png", "ai", {"generator": "Generator settings: ComfyUI, model flux1-dev-fp8.safetensors"}),
    ("iptc_ai.jpg", "ai", {"source": "Declared source (IPTC): created by a generative AI model",
                           "software": "Software: Made with Google AI"}),
    ("camera_exif.jpg", "", {"camera": "Camera: Canon Canon EOS 5D Mark IV", "credentials": "Content Credentials: none"}),
    ("none.jpg", "", {"nothing": "Nothing declared."}),
]


def provenance_page(sites, name: str, src: str) -> str:
    return sites.add_page(f"provenance-{name}.html", page(
        "What the file says", f"<img id='p' src='{src}'>", "img{width:256px;height:300px}"))


@pytest.mark.parametrize(("name", "mark", "lines"), PROVENANCE_PANEL, ids=[row[0] for row in PROVENANCE_PANEL])
def test_panel_and_badge_say_what_the_file_declares(browser, sites, tools, name, mark, lines):
    driver = browser.driver
    src = f"{sites.images}provenance/{name}"
    driver.get(provenance_page(sites, name, src))
    wait_for_verdicts(driver, ["p"])
    assert context_menu_click(tools, src) == "panel"
    wait_for_panel(driver, lambda p: p["state"] == "done")
    seen = driver.execute_script(READ_PROVENANCE)
    assert seen["mark"] == mark and seen["markText"] == ({"ai": "AI"}.get(mark)), seen
    if mark == "ai":
        # declared AI comes first, whatever the pixels say; the pixel verdict stays under it
        assert seen["declared"] == "AI-made (declared by the file)", seen
        assert seen["verdict"].startswith("Pixel verdict: "), seen
    else:
        assert seen["declared"] is None and not seen["verdict"].startswith("Pixel verdict"), seen
    shown = {}
    for kind, text in seen["lines"]:
        shown.setdefault(kind, []).append(text)
    for kind, phrase in lines.items():
        assert any(phrase in text for text in shown.get(kind, [])), (kind, seen["lines"])
    assert "not evidence of a real photo" in shown["note"][0]
    # reverse search: four sites, each opened with this image's URL in a new tab, only on a click
    encoded = quote(src, safe="")
    assert [s[0] for s in seen["search"]] == ["Google Lens", "TinEye", "Bing", "Yandex"], seen
    assert all(encoded in href and target == "_blank" and "noreferrer" in rel
               for _, href, target, rel in seen["search"]), seen["search"]
    assert "sends it this image's URL" in seen["searchNote"]


def test_no_image_search_for_inline_images_or_with_the_privacy_switch_on(browser, sites, tools):
    driver = browser.driver
    src = f"{sites.images}provenance/iptc_ai.jpg?private"
    set_settings(tools, neverSendImages=True)
    driver.get(provenance_page(sites, "private", src))
    wait_for_verdicts(driver, ["p"])
    assert context_menu_click(tools, src) == "panel"
    wait_for_panel(driver, lambda p: p["state"] == "done")
    seen = driver.execute_script(READ_PROVENANCE)
    assert seen["search"] == [] and seen["declared"] == "AI-made (declared by the file)", seen

    set_settings(tools, neverSendImages=False)
    inline = "data:image/jpeg;base64," + base64.b64encode((FIXTURES / "provenance" / "iptc_ai.jpg").read_bytes()).decode()
    driver.get(provenance_page(sites, "inline", inline))
    wait_for_verdicts(driver, ["p"])
    assert context_menu_click(tools, inline) == "panel"
    wait_for_panel(driver, lambda p: p["state"] == "done")
    seen = driver.execute_script(READ_PROVENANCE)
    # the inline bytes are read all the same; only the search links need a URL a site can fetch
    assert seen["search"] == [] and seen["declared"] == "AI-made (declared by the file)", seen


def test_this_is_wrong_sends_a_report_to_the_users_server_only(browser, sites, tools, backend):
    driver = browser.driver
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = lambda: requests.get(f"{backend.base}/api/v1/reports", headers=auth, timeout=10).json()["reports"]
    already = len(listed())
    driver.get(sites.add_page("report.html", page(
        "Report", f"<img id='face' src='{sites.images}{FAKE_FACE}?report'>", "img{width:200px}")))
    src = driver.execute_script("return document.getElementById('face').currentSrc")

    # no server set: the button says where reports go, and is off
    assert context_menu_click(tools, src) == "panel"
    wait_for_panel(driver, lambda p: p["state"] == "done")
    root = lambda: driver.find_element(By.CSS_SELECTOR, "dfd-overlay").shadow_root
    button = root().find_element(By.CSS_SELECTOR, "[data-action=report]")
    assert not button.is_enabled() and "set one in the options" in button.text

    set_settings(tools, backendUrl=backend.base, apiToken=TOKEN)
    driver.refresh()
    assert context_menu_click(tools, src) == "panel"
    shown = wait_for_panel(driver, lambda p: p["state"] == "done")["answers"][0]
    root().find_element(By.CSS_SELECTOR, "[data-action=report]").click()
    root().find_element(By.CSS_SELECTOR, "[data-action=send-report]").click()
    wait_until(lambda: root().find_elements(By.CSS_SELECTOR, "[data-report-status=failed]"), 10, "the missing label")
    assert "Choose what the image really is first." in root().find_element(By.CSS_SELECTOR, "[data-role=report-status]").text
    assert len(listed()) == already  # nothing sent without a label
    root().find_element(By.CSS_SELECTOR, "[data-report-label=real]").click()
    root().find_element(By.CSS_SELECTOR, "[data-role=report-note]").send_keys("I know this person")
    assert not root().find_element(By.CSS_SELECTOR, "[data-role=report-image]").is_selected()  # off by default
    root().find_element(By.CSS_SELECTOR, "[data-role=report-image]").click()
    root().find_element(By.CSS_SELECTOR, "[data-action=send-report]").click()
    sent = wait_until(lambda: root().find_elements(By.CSS_SELECTOR, "[data-report-status=sent]"), 30, "the report")
    assert "went to your server, with the image" in sent[0].text

    reports = listed()
    assert len(reports) == already + 1
    report = reports[0]
    data = (FIXTURES / FAKE_FACE).read_bytes()
    assert report["id"] == int(sent[0].get_attribute("data-report-id"))
    assert (report["label"], report["note"], report["url"], report["has_image"]) == (
        "real", "I know this person", src, True)
    assert report["sha256"] == hashlib.sha256(data).hexdigest()
    assert report["verdict"] == shown["verdict"].replace("-", "_")
    assert report["score"] == pytest.approx(float(shown["score"]), abs=1e-6)
    assert report["model_version"] and report["model_version"] in shown["text"]
