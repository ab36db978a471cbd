"""scoring.faces: decoding, detection and the face crop, as tables of cases."""

import io
import zlib
import struct

import numpy as np
import pytest
from PIL import Image

from scoring import faces
from harness import FIXTURES


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def bomb_png(width=30000, height=30000) -> bytes:
    """A few-KB PNG whose header claims width x height pixels."""
    raw = zlib.compress(b"\x00" * (width // 8 + 1) * 8, 9)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def rgba_half_transparent() -> bytes:
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    img.putpixel((0, 0), (0, 0, 0, 0))
    return encode(img, "PNG")


def exif_rotated() -> bytes:
    img = Image.new("RGB", (40, 20), (0, 128, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return encode(img, "JPEG", exif=exif)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


@pytest.mark.parametrize(
    "name, data, shape, corner",
    [
        ("jpeg", encode(Image.new("RGB", (30, 20), (200, 10, 10)), "JPEG", quality=95), (20, 30, 3), None),
        ("png with alpha -> white", rgba_half_transparent(), (4, 4, 3), (255, 255, 255)),
        ("16-bit png", encode(Image.fromarray(np.full((5, 6), 65535, np.uint16)), "PNG"), (5, 6, 3), (255, 255, 255)),
        ("grayscale", encode(Image.new("L", (7, 3), 77), "PNG"), (3, 7, 3), (77, 77, 77)),
        ("cmyk jpeg", encode(Image.new("CMYK", (9, 9), (0, 0, 0, 0)), "JPEG"), (9, 9, 3), None),
        ("animated gif: first frame", animated_gif(), (8, 8, 3), (255, 0, 0)),
        ("exif orientation applied", exif_rotated(), (40, 20, 3), None),
        ("webp", encode(Image.new("RGB", (10, 12), (0, 0, 255)), "WEBP", lossless=True), (12, 10, 3), (0, 0, 255)),
    ],
)
def test_load_image_decodes_to_rgb(name, data, shape, corner):
    rgb = faces.load_image(data)
    assert rgb.dtype == np.uint8 and rgb.shape == shape, name
    if corner is not None:
        assert tuple(int(v) for v in rgb[0, 0]) == pytest.approx(corner, abs=2), name


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty", b"", "empty"),
        ("text", b"hello, I am not an image", "not an image"),
        ("truncated jpeg", encode(Image.new("RGB", (64, 64)), "JPEG")[:200], "damaged"),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not an image"),
        ("decompression bomb", bomb_png(), "too many pixels"),
    ],
)
def test_load_image_refuses_bad_input(name, data, message):
    with pytest.raises(faces.ImageError, match=message):
        faces.load_image(data)


@pytest.mark.parametrize("value, expected", [(0.5, 1), (1.5, 2), (2.5, 3), (-0.5, 0), (2.49, 2)])
def test_round_is_half_up_like_javascript(value, expected):
    assert faces._round(value) == expected


def gradient(h, w):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)


@pytest.mark.parametrize(
    "name, image, box, margin, size, check",
    [
        # a box in the middle: the crop is the box plus margin, scaled to size
        ("centred", gradient(100, 100), (40, 40, 20, 20), 0.25, 30,
         lambda c, img: np.allclose(c, img[35:65, 35:65], atol=1e-3)),
        # a box at the corner: what lies outside the image is zero
        ("corner pads with zeros", np.full((50, 50, 3), 200, np.uint8), (0, 0, 20, 20), 0.5, 40,
         lambda c, img: c[0, 0].sum() == 0 and c[-1, -1].min() == 200),
        # a non-square box makes a square crop of its long side
        ("long side sets the square", gradient(200, 200), (90, 50, 20, 100), 0.0, 100,
         lambda c, img: np.allclose(c, img[50:150, 50:150], atol=1e-3)),
        # a large face is averaged down before the bilinear step (no aliasing)
        ("large crop anti-aliased", np.tile(np.array([[0], [255]], np.uint8), (400, 800))[:, :, None].repeat(3, 2),
         (0, 0, 800, 800), 0.0, 100, lambda c, img: np.allclose(c, 127.5, atol=1.0)),
    ],
)
def test_crop_face(name, image, box, margin, size, check):
    crop = faces.crop_face(image, box, margin, size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.float32, name
    assert check(crop, image.astype(np.float32)), name


def load(rel):
    return faces.load_image((FIXTURES / rel).read_bytes())


def paste_small_face(canvas_size=(2600, 1900), at=(1800, 1100), face_px=150):
    """A large plain photo with one small face: full-resolution detection must find it."""
    canvas = Image.new("RGB", canvas_size, (90, 120, 90))
    face = Image.fromarray(load("photos/portrait_grace_hopper.jpg")).resize((face_px, int(face_px * 600 / 512)))
    canvas.paste(face, at)
    return np.asarray(canvas)


@pytest.mark.parametrize(
    "name, image, full_resolution, expected_faces, inside",
    [
        ("portrait", load("photos/portrait_grace_hopper.jpg"), False, 1, (150, 120, 400, 360)),
        ("tight dfdc crop", load("faces/real/dfdc_ikcxvepgks.jpg"), False, 1, (0, 0, 224, 224)),
        ("small face in a big photo", paste_small_face(), True, 1, (1800, 1100, 1950, 1280)),
        ("small face in a big photo, one pass", paste_small_face(), False, 0, None),
        ("landscape", load("photos/landscape_china.jpg"), False, 0, None),
        ("landscape, full resolution", load("photos/landscape_china.jpg"), True, 0, None),
        ("logo", load("photos/logo_matplotlib.png"), False, 0, None),
        ("blank", np.full((300, 300, 3), 255, np.uint8), False, 0, None),
    ],
)
def test_detect_faces(name, image, full_resolution, expected_faces, inside):
    found = faces.detect_faces(image, full_resolution=full_resolution)
    assert len(found) == expected_faces, f"{name}: {found}"
    if inside:
        x0, y0, x1, y1 = inside
        x, y, w, h = found[0].box
        cx, cy = x + w / 2, y + h / 2
        assert x0 <= cx <= x1 and y0 <= cy <= y1, f"{name}: face centre {cx, cy} outside {inside}"


def with_coloured_pixels(share: float) -> np.ndarray:
    """A grey 100x100 crop whose first `share` of pixels are pure red."""
    crop = np.full((100, 100, 3), 128.0, np.float32)
    crop.reshape(-1, 3)[: int(share * 10_000)] = (255, 0, 0)
    return crop


def grey_jpeg_as_rgb() -> np.ndarray:
    """A black-and-white photo saved as a colour JPEG, decoded as the product decodes it."""
    grey = Image.fromarray(load("photos/portrait_grace_hopper.jpg")).convert("L").convert("RGB")
    return faces.load_image(encode(grey, "JPEG", quality=75)).astype(np.float32)


@pytest.mark.parametrize(
    "name, crop, greyscale",
    [
        ("flat grey", np.full((50, 50, 3), 90.0, np.float32), True),
        ("black", np.zeros((50, 50, 3), np.float32), True),
        ("grey photo saved as a colour JPEG", grey_jpeg_as_rgb(), True),
        ("a few coloured pixels (0.5%) stay grey", with_coloured_pixels(0.005), True),
        ("coloured pixels past the top share (2%)", with_coloured_pixels(0.02), False),
        ("colour portrait", load("photos/portrait_grace_hopper.jpg").astype(np.float32), False),
        ("colour face", load("faces/real/lfw_faceswap_real_3459.jpg").astype(np.float32), False),
    ],
)
def test_colour_spread_tells_black_and_white_faces(name, crop, greyscale):
    assert (faces.colour_spread(crop) <= faces.GREY_MAX_SPREAD) == greyscale, (name, faces.colour_spread(crop))
