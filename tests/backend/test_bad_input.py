"""Every awkward input the issue lists: a clear JSON answer with the right status, never a 500.

Odd but valid images (animated GIF, CMYK, 16-bit, alpha, WebP, grayscale,
1x1) are scored; broken ones get an error that says what to send instead.
URL-mode rows fetch from loopback servers started by the tests.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from harness.servers import PORTRAIT, PORTRAIT_FACE_CENTRE, PORTRAIT_SIZE, box_contains, encode, free_port, portrait

SCORE = "/api/v1/score"
FACE_VERDICTS = {"fake", "real", "uncertain"}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb() -> bytes:
    """A PNG of a few hundred bytes whose header claims 30000x30000 pixels."""
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 30001 * 8)) + _png_chunk(b"IEND", b""))


def animated_gif() -> bytes:
    """The portrait as the first frame, then a blank frame: only the first is scored."""
    frames = [portrait().convert("P"), Image.new("P", PORTRAIT_SIZE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png() -> bytes:
    grey = np.asarray(portrait().convert("L")).astype(np.uint16) * 257
    return encode(Image.fromarray(grey), "PNG")


def alpha_png() -> bytes:
    rgba = portrait().convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(PORTRAIT_SIZE).point(lambda v: 255 - v // 4))
    return encode(rgba, "PNG")


JPEG = PORTRAIT.read_bytes()
PNG = encode(portrait(), "PNG")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30"/></svg>'


def upload(data: bytes, filename: str = "photo.jpg"):
    """POST the bytes as the multipart field 'image'."""
    return lambda client, server: client.post(SCORE, data={"image": (io.BytesIO(data), filename)})


def raw(data: bytes, content_type: str = "application/octet-stream"):
    """POST the bytes as the request body."""
    return lambda client, server: client.post(SCORE, data=data, content_type=content_type)


def url(path_or_url: str):
    """POST {"url": ...}; a bare path is on the stand-in public server."""
    def send(client, server):
        target = path_or_url if "://" in path_or_url else server.base + path_or_url
        return client.post(SCORE, json={"url": target})
    return send


# (case, request, app settings, status, what the answer says: error text, or "face" / "no_face")
CASES = [
    ("empty body", raw(b""), {}, 400, "holds no image"),
    ("empty upload", upload(b""), {}, 400, "holds no image"),
    ("no image field", lambda c, s: c.post(SCORE, data={"photo": (io.BytesIO(JPEG), "p.jpg")}), {}, 400, "multipart field 'image'"),
    ("not an image", raw(bytes(range(256)) * 8), {}, 415, "not an image we can read"),
    ("truncated JPEG", raw(JPEG[: len(JPEG) // 2], "image/jpeg"), {}, 422, "damaged or truncated"),
    ("truncated PNG", upload(PNG[: len(PNG) // 2], "photo.png"), {}, 422, "damaged or truncated"),
    ("text file named .jpg", upload(b"Dear diary, today I took a photo.\n", "photo.jpg"), {}, 415, "not an image we can read"),
    ("SVG", upload(SVG, "drawing.svg"), {}, 415, "not an image we can read"),
    ("TIFF", raw(encode(portrait(), "TIFF")), {}, 415, "Unsupported image format TIFF"),
    ("decompression bomb", raw(decompression_bomb(), "image/png"), {}, 422, "too many pixels"),
    ("upload over the limit", upload(PNG), {"MAX_UPLOAD_MB": 0.1}, 413, "over the 0.1 MB limit"),
    ("body over the limit", raw(PNG, "image/png"), {"MAX_UPLOAD_MB": 0.1}, 413, "over the 0.1 MB limit"),
    ("explain not a flag", lambda c, s: c.post(SCORE + "?explain=maybe", data=JPEG), {}, 400, "explain to 1 or 0"),
    ("1x1 image", upload(encode(Image.new("RGB", (1, 1), "white"), "PNG"), "dot.png"), {}, 200, "no_face"),
    ("animated GIF", upload(animated_gif(), "anim.gif"), {}, 200, "face"),
    ("CMYK JPEG", upload(encode(portrait().convert("CMYK"), "JPEG", quality=92)), {}, 200, "face"),
    ("16-bit PNG", upload(sixteen_bit_png(), "deep.png"), {}, 200, "face"),
    ("PNG with alpha", upload(alpha_png(), "alpha.png"), {}, 200, "face"),
    ("WebP", raw(encode(portrait(), "WEBP", quality=90), "image/webp"), {}, 200, "face"),
    ("grayscale JPEG", upload(encode(portrait().convert("L"), "JPEG", quality=92)), {}, 200, "face"),
    ("URL: JSON without a url", lambda c, s: c.post(SCORE, json={"link": "x"}), {}, 400, 'JSON like {"url"'),
    ("URL: unreachable host", url(f"http://127.0.0.2:{free_port('127.0.0.2')}/photo.jpg"), {}, 502, "Could not connect"),
    ("URL: unknown host", url("http://photos.nowhere.invalid/photo.jpg"), {}, 502, "could not be found"),
    ("URL: non-image content", url("/page.html"), {}, 415, "returned text/html, not an image"),
    ("URL: redirect to 127.0.0.1", url("/redirect-loopback"), {}, 403, "redirects to a private or local address (127.0.0.1)"),
    ("URL: redirect to metadata", url("/redirect-metadata"), {}, 403, "redirects to a private or local address (169.254.169.254)"),
    ("URL: file://", url("file:///etc/passwd"), {}, 400, "Only http and https URLs"),
    ("URL: redirect to file://", url("/redirect-file"), {}, 400, "Only http and https URLs"),
    ("URL: download over the limit", url("/portrait.jpg"), {"FETCH_MAX_MB": 0.01}, 413, "over the 0.01 MB limit"),
    ("URL: unsized download over the limit", url("/unsized.jpg"), {"FETCH_MAX_MB": 0.01}, 413, "over the 0.01 MB limit"),
]


@pytest.mark.parametrize(("send", "settings", "status", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_awkward_input_gets_a_clear_answer(make_app, public_server, send, settings, status, expected):
    client = make_app(**settings).test_client()
    response = send(client, public_server)
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    if status != 200:
        assert set(body) == {"error"}
        assert expected in body["error"]
        # one sentence that tells the user what happened
        assert body["error"].endswith(".") and len(body["error"]) < 200
    elif expected == "no_face":
        assert (body["verdict"], body["score"], body["faces"]) == ("no_face", None, [])
    else:
        assert body["image"] == {"width": PORTRAIT_SIZE[0], "height": PORTRAIT_SIZE[1]}
        assert body["verdict"] in FACE_VERDICTS
        assert box_contains(body["faces"][0]["box"], PORTRAIT_FACE_CENTRE)
