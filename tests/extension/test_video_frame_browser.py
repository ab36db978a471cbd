""""Check this frame" on a <video> in headless Chromium: the frame on screen scored like an image.

A loopback page plays WebM videos the test makes from fixture faces: one from
its own origin (the content script copies the frame from a canvas) and ones
from another origin without CORS headers (the canvas is tainted, so the
frame is cropped from a capture of the visible tab).

Headless Chromium cannot click a native context menu, so the test calls the
menu's handler in the service worker, as tests/extension/test_extension_browser.py
does; that call grants no activeTab, which captureVisibleTab needs. The
extension under test is therefore the built one with `<all_urls>` added to
its host permissions, the other grant captureVisibleTab accepts; the shipped
manifest asks only for activeTab, which the real menu click grants.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest
from PIL import Image

from tests.browser_harness import build_extension, extension_browser, serve_folder
from tests.extension.devtools import DevTools
from tests.video_fixtures import FAKE_FACE, REAL_FACE, encode

FRAME_MENU_ITEM = "dfd-check-frame"  # "Check this frame" in service-worker.js
VERDICT_TIMEOUT_S = 120  # the first frame loads the model in the offscreen document on 2 busy cores
VIDEO_SIZE = (320, 240)
SHOWN_SIZE = (480, 360)  # the <video> element's CSS size: the capture crop is this times devicePixelRatio

READ_PANEL = """
const host = document.querySelector('dfd-overlay');
const panel = host && host.shadowRoot.querySelector('[data-dfd-panel]');
if (!panel) return null;
const answer = panel.querySelector('.answer');
const photo = panel.querySelector('img.photo');
const note = panel.querySelector('[data-role=blocked]');
return { state: panel.dataset.state, verdict: answer && answer.dataset.verdict,
         source: answer && answer.dataset.source, faces: answer && Number(answer.dataset.faces),
         photo: photo && [photo.src.slice(0, 22), photo.naturalWidth, photo.naturalHeight],
         blocked: note && note.textContent, text: panel.textContent,
         button: !!panel.querySelector('[data-action=full-resolution]') };
"""

# seek the video to 1 s and answer with its address once the frame is there
SEEK = """
const [id, done] = [arguments[0], arguments[arguments.length - 1]];
const video = document.getElementById(id);
const seek = () => { video.currentTime = 1.0; };
video.addEventListener('seeked', () => done(video.currentSrc), { once: true });
video.addEventListener('error', () => done('error: ' + (video.error && video.error.message)), { once: true });
if (video.readyState >= 1) seek(); else video.addEventListener('loadedmetadata', seek, { once: true });
"""


def still_video(face: Path | None) -> bytes:
    """Two seconds of one picture as VP8 WebM: a fixture face on grey, or black."""
    canvas = Image.new("RGB", VIDEO_SIZE, (0, 0, 0) if face is None else (120, 128, 136))
    if face is not None:
        canvas.paste(Image.open(face).convert("RGB").resize((200, 200)), (60, 20))
    return encode([canvas] * 20, "webm", "libvpx", fps=10, size=VIDEO_SIZE)


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = build_extension(tmp_path_factory.mktemp("extension") / "dist")
    manifest = json.loads((out / "manifest.json").read_text())
    assert "activeTab" in manifest["permissions"]  # what the shipped extension relies on
    manifest["host_permissions"].append("<all_urls>")  # stands in for the menu click's activeTab grant
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Pages on 127.0.0.1, videos both there and on localhost (another origin, no CORS headers)."""
    pages = tmp_path_factory.mktemp("pages")
    videos = tmp_path_factory.mktemp("videos")
    for name, face in {"fake": FAKE_FACE, "real": REAL_FACE, "black": None}.items():
        data = still_video(face)
        (pages / f"{name}.webm").write_bytes(data)
        (videos / f"{name}.webm").write_bytes(data)
    with ExitStack() as stack:
        page_base = stack.enter_context(serve_folder(pages))
        video_base = stack.enter_context(serve_folder(videos, cors=False)).replace("127.0.0.1", "localhost")
        yield pages, page_base, video_base


@pytest.fixture(scope="module")
def browser(dist):
    with extension_browser(dist) as b:
        b.driver.set_window_size(1280, 1000)
        b.driver.set_script_timeout(VERDICT_TIMEOUT_S)
        yield b


def frame_menu_click(tools: DevTools, src: str) -> str:
    """Call the handler the "Check this frame" menu calls, for the active tab."""
    return tools.evaluate_in_service_worker(
        "(async () => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
        f" return handleContextMenuClick({{ menuItemId: '{FRAME_MENU_ITEM}', srcUrl: {json.dumps(src)},"
        " frameId: 0, mediaType: 'video', pageUrl: tab.url }, tab); })()"
    )


def wait_for_panel(driver) -> dict:
    import time

    deadline = time.monotonic() + VERDICT_TIMEOUT_S
    while (panel := driver.execute_script(READ_PANEL)) is None or panel["state"] == "loading":
        if time.monotonic() > deadline:
            raise AssertionError(f"no verdict in the panel after {VERDICT_TIMEOUT_S} s: {panel}")
        time.sleep(0.25)
    return panel


@pytest.mark.parametrize(
    ("video", "origin", "via", "verdict"),
    [
        ("fake", "other", "capture", "fake"),
        ("real", "other", "capture", "real"),
        ("real", "same", "canvas", "real"),
        ("fake", "same", "canvas", "fake"),
        ("black", "other", "capture", None),
        ("black", "same", "canvas", None),
    ],
    ids=["cross-origin fake", "cross-origin real", "same-origin real", "same-origin fake",
         "cross-origin black", "same-origin black"],
)
def test_check_this_frame_scores_the_frame_on_screen(browser, sites, video, origin, via, verdict):
    pages, page_base, video_base = sites
    driver = browser.driver
    src = f"{video}.webm" if origin == "same" else f"{video_base}{video}.webm"
    name = f"{video}-{origin}.html"
    (pages / name).write_text(
        "<!doctype html><html><head><meta charset='utf-8'><style>body{margin:0}video{margin:30px}</style></head>"
        f"<body><p>A video</p><video id='clip' src='{src}' muted width='{SHOWN_SIZE[0]}' "
        f"height='{SHOWN_SIZE[1]}'></video></body></html>"
    )
    driver.get(page_base + name)
    current = driver.execute_async_script(SEEK, "clip")
    assert current.startswith("http"), current
    assert frame_menu_click(DevTools(browser), current) == "frame-panel"
    panel = wait_for_panel(driver)
    assert driver.execute_script("return document.getElementById('clip').dataset.dfdFrameVia") == via, panel
    if verdict is None:
        # a black frame (what DRM-protected players give a capture) says so, not "no face"
        assert panel["state"] == "failed" and panel["blocked"].startswith("Protected or black frame"), panel
        assert "No face" not in panel["text"] and not panel["button"]
        return
    assert (panel["state"], panel["source"], panel["verdict"], panel["faces"]) == ("done", "browser", verdict, 1), panel
    # the panel shows the frame it scored: the video's own pixels from a canvas,
    # the video's box in device pixels from the capture
    ratio = driver.execute_script("return devicePixelRatio")
    size = list(VIDEO_SIZE) if via == "canvas" else [round(side * ratio) for side in SHOWN_SIZE]
    assert panel["photo"] == ["data:image/png;base64,", *size]
