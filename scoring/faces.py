"""Image decoding, face detection, face cropping and preprocessing.

This is the one place that turns image bytes into the face crops the model
sees. Training, evaluation and the backend all import it; the extension's
JavaScript (extension/src/lib/faces.js) mirrors it step for step, and the
converter's parity test holds the two together.

The pipeline:
  1. decode: EXIF orientation applied, first frame only, alpha composited
     onto white, any mode to 8-bit RGB.
  2. detect: BlazeFace (TF.js graph model from @vladmandic/human, MIT) on the
     image letterboxed into a square; when nothing is found, again with the
     image shrunk to half of the square, so tight crops where the face fills
     the frame are still found.
  3. crop: a square around the face box, `margin` of the box size added on
     each side, zero-padded outside the image, resized to the model input.
Resizing first halves by 2x2 averaging while the source is over twice the
target, then resizes bilinearly: both steps exist, bit for bit, in TF.js.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from scoring.model_config import SHIPPED_MODEL_DIR

FACE_DETECTOR_PATH = SHIPPED_MODEL_DIR / "face_detector" / "blazeface.json"

DETECTOR_INPUT = 256  # the BlazeFace "back camera" model's fixed input size
DETECTOR_NORM = (127.5, 1.0)  # BlazeFace wants pixels in -1..1: x / 127.5 - 1.0
NMS_IOU = 0.3  # overlapping detections of one face are merged above this
MAX_FACES = 20  # a crowd photo beyond this is scored on its 20 surest faces
MIN_FACE_PX = 24  # a smaller "face" is too small to judge and is mostly a false hit
# Detection passes, tried in turn until one finds a face:
# (share of the letterboxed square the image fills, min detector score,
#  min face size as a share of the image's short side).
# The first pass suits photos with faces in them; the next two shrink the
# image so that BlazeFace (made for faces a few metres away) finds a face that
# fills the frame. Those passes only accept faces that span much of the image,
# which keeps landscapes and logos from yielding "faces". Values chosen on a
# sample of val images and on non-face photos (see MODEL_CARD.md).
DETECTION_PASSES = ((1.0, 0.7, 0.0), (0.5, 0.6, 0.4), (0.25, 0.6, 0.4))
HALVE_AT = 4  # halve by 2x2 averaging while the side is >= 4x the target, so bilinear skips no pixels
# full-resolution detection (the backend): images whose long side is over
# TILE_ABOVE are also searched in overlapping square tiles, so a face that
# would be under ~20 detector pixels in the whole-image pass is still found.
# Up to 2048 px the whole-image pass alone finds faces from ~160 px; tiling a
# 1 MP photo would cost 6 more detector passes (4x the request time).
TILE_ABOVE = 2048
TILE_MIN = 640  # tile side: half the long side, but never below this
TILE_OVERLAP = 0.25  # a face cut by one tile's edge lies whole in the next
MAX_PIXELS = 40_000_000  # larger images are refused as decompression bombs
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO"}
# A face crop is black-and-white when even its most colourful pixels carry no
# colour: the channel spread (max - min of R, G, B, in 0..255 levels) that the
# top GREY_TOP_SHARE of its pixels reach is at most GREY_MAX_SPREAD. Grey
# photos give 0 (a JPEG's neutral chroma decodes to equal channels); the least
# colourful of the 2,708 colour val faces gives 11. A share, not the maximum,
# so a few coloured pixels (a caption, a JPEG edge) leave a grey face grey.
GREY_TOP_SHARE = 0.01
GREY_MAX_SPREAD = 4.0


class ImageError(ValueError):
    """The bytes are not an image we can score; the message says why."""


class NotAnImageError(ImageError):
    """The bytes are in no format we read (text, SVG, PDF, TIFF...)."""


@dataclass(frozen=True)
class Face:
    """A detected face: box in image pixels (x, y, w, h) and detector score."""

    box: tuple[float, float, float, float]
    confidence: float


def load_image(data: bytes) -> np.ndarray:
    """Decode image bytes into an HxWx3 uint8 RGB array, or raise ImageError."""
    if not data:
        raise ImageError("The image is empty.")
    with warnings.catch_warnings():
        # Pillow warns on a damaged metadata block and decodes the pixels all the same: so do we,
        # whatever the process' warning filters (backend.provenance reports the damage)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            if img.format not in ALLOWED_FORMATS:
                raise NotAnImageError(f"Unsupported image format {img.format}; send JPEG, PNG, WebP, GIF or BMP.")
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(
                    f"The image is {img.width}x{img.height}, over the {MAX_PIXELS // 1_000_000} megapixel limit."
                )
            img.seek(0)
            img.load()
            img = ImageOps.exif_transpose(img)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageError("The image claims too many pixels to decode safely.") from e
        except UnidentifiedImageError as e:
            raise NotAnImageError("The data is not an image we can read; send JPEG, PNG, WebP, GIF or BMP.") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError(f"The image is damaged or truncated ({e}).") from e
    return to_rgb(img)


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode to uint8 RGB; transparency composited onto white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grayscale: keep the top 8 bits
        arr = np.asarray(img, dtype=np.uint32) >> 8
        img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _halve(img: np.ndarray) -> np.ndarray:
    """2x2 average, dropping an odd last row/column (TF.js avgPool 'valid')."""
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    img = img[:h, :w]
    if img.dtype == np.uint8:
        # sums of four bytes are exact in uint16 and in float32 alike: same values as
        # the float path, with a third of the memory traffic on a full-size photo
        s = img[0::2, 0::2].astype(np.uint16) + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]
        return s.astype(np.float32) * 0.25
    img = img.astype(np.float32)
    return (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]) * 0.25


@dataclass(frozen=True)
class Placed:
    """A side x side square of zeros holding `img` at (ox, oy).

    Letterboxes and edge crops stay in this form until they have been halved
    down to a few times the target size, so the 8000 px letterbox of a 2000 px
    photo never exists in memory; the halving averages the same four pixels,
    zeros included, as halving the whole square would. extension/src/lib/faces.js
    does the same.
    """

    img: np.ndarray | None  # uint8 (a view of the photo) or float32 once halved; None: no image pixel
    ox: int
    oy: int
    side: int


def _halve_axis(offset: int, length: int, side: int):
    """(pixels kept, zeros before, zeros after, new offset) along one axis, or None."""
    end = side // 2 * 2  # an odd last row/column is dropped
    start = offset - offset % 2
    stop = min(offset + length, end)
    if stop <= offset:
        return None
    return stop - offset, offset - start, (stop - start) % 2, start // 2


def _halve_placed(p: Placed) -> Placed:
    side = p.side // 2
    if p.img is None:
        return Placed(None, 0, 0, side)
    ay = _halve_axis(p.oy, p.img.shape[0], p.side)
    ax = _halve_axis(p.ox, p.img.shape[1], p.side)
    if ay is None or ax is None:
        return Placed(None, 0, 0, side)
    kept = p.img[: ay[0], : ax[0]]
    padded = np.pad(kept, ((ay[1], ay[2]), (ax[1], ax[2]), (0, 0)))
    return Placed(_halve(padded), ax[3], ay[3], side)


def _pixels(a: np.ndarray) -> np.ndarray:
    """Placed.img as it may be: bytes stay bytes (a view), anything else becomes float32."""
    return a if a.dtype == np.uint8 else a.astype(np.float32)


def _materialise(p: Placed) -> np.ndarray:
    out = np.zeros((p.side, p.side, 3), np.float32)
    if p.img is not None:
        h, w = p.img.shape[:2]
        out[p.oy : p.oy + h, p.ox : p.ox + w] = p.img
    return out


def resize_square(img, size: int) -> np.ndarray:
    """Resize a square (array or Placed) to size x size float32, anti-aliased by halving."""
    import tensorflow as tf

    p = img
    if not isinstance(p, Placed):
        a = np.asarray(img)
        p = Placed(_pixels(a), 0, 0, a.shape[0])
    while p.side >= HALVE_AT * size:
        p = _halve_placed(p)
    out = tf.image.resize(_materialise(p)[None], (size, size), method="bilinear", antialias=False)
    return out[0].numpy()


def _round(v: float) -> int:
    """Round half up, as JavaScript's Math.round does."""
    return math.floor(v + 0.5)


def _place(img: np.ndarray, x0: int, y0: int, side: int) -> Placed:
    """The side x side window of img at (x0, y0), zeros where it leaves the image."""
    h, w = img.shape[:2]
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, w), min(y0 + side, h)
    if sx1 <= sx0 or sy1 <= sy0:
        return Placed(None, 0, 0, side)
    return Placed(_pixels(img[sy0:sy1, sx0:sx1]), sx0 - x0, sy0 - y0, side)


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """BlazeFace anchor centres in input pixels: 16x16 grid x2, then 8x8 x6."""
    rows = []
    for stride, per_cell in ((DETECTOR_INPUT // 16, 2), (DETECTOR_INPUT // 8, 6)):
        cells = DETECTOR_INPUT // stride
        for gy in range(cells):
            for gx in range(cells):
                rows += [(stride * (gx + 0.5), stride * (gy + 0.5))] * per_cell
    return np.array(rows, dtype=np.float32)


@lru_cache(maxsize=1)
def _detector():
    from scoring.tfjs_graph import load_graph_model

    return load_graph_model(FACE_DETECTOR_PATH)


def _raw_detections(square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4: x, y, w, h in detector pixels) and scores for a square image."""
    x = resize_square(square, DETECTOR_INPUT) / DETECTOR_NORM[0] - DETECTOR_NORM[1]
    out = _detector()(x[None])
    # outputs: scores 512x1, scores 384x1, regressors 512x16, regressors 384x16
    s512, s384, r512, r384 = (out[k].numpy()[0] for k in sorted(out))
    raw = np.concatenate([np.concatenate([s512, r512], 1), np.concatenate([s384, r384], 1)], 0)
    centres = raw[:, 1:3] + _anchors()
    sizes = raw[:, 3:5]
    boxes = np.concatenate([centres - sizes / 2, sizes], 1)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 0], -80, 80)))
    return boxes, scores


def _nms(boxes: np.ndarray, scores: np.ndarray, min_score: float) -> list[int]:
    import tensorflow as tf

    corners = np.stack(
        [boxes[:, 1], boxes[:, 0], boxes[:, 1] + boxes[:, 3], boxes[:, 0] + boxes[:, 2]], 1
    )
    keep = tf.image.non_max_suppression(corners, scores, MAX_FACES, NMS_IOU, min_score)
    return [int(i) for i in keep.numpy()]


def _detect_in_square(rgb: np.ndarray, fill: float, min_score: float, min_share: float) -> list[Face]:
    """Letterbox rgb so its long side is `fill` of a square, centred; detect."""
    h, w = rgb.shape[:2]
    side = _round(max(h, w) / fill)
    x0, y0 = (side - w) // 2, (side - h) // 2
    square = _place(rgb, -x0, -y0, side)
    boxes, scores = _raw_detections(square)
    k = side / DETECTOR_INPUT
    faces = []
    min_side = max(MIN_FACE_PX, min_share * min(h, w))
    for i in _nms(boxes, scores, min_score):
        bx, by, bw, bh = boxes[i] * k
        x1, y1 = max(bx - x0, 0.0), max(by - y0, 0.0)
        x2, y2 = min(bx - x0 + bw, w), min(by - y0 + bh, h)
        if max(x2 - x1, y2 - y1) >= min_side:
            faces.append(Face((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), float(scores[i])))
    return faces


def _tile_starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile * (1 - TILE_OVERLAP))) + 1
    return [_round(i * (length - tile) / (n - 1)) for i in range(n)]


def _detect_tiled(rgb: np.ndarray) -> list[Face]:
    """Whole-image pass plus tiles, merged by NMS in image pixels."""
    h, w = rgb.shape[:2]
    fill, min_score, _ = DETECTION_PASSES[0]
    tile = min(max(TILE_MIN, max(h, w) // 2), min(h, w))
    found = _detect_in_square(rgb, fill, min_score, 0.0)
    for ty in _tile_starts(h, tile):
        for tx in _tile_starts(w, tile):
            for f in _detect_in_square(rgb[ty : ty + tile, tx : tx + tile], fill, min_score, 0.0):
                x, y, bw, bh = f.box
                found.append(Face((x + tx, y + ty, bw, bh), f.confidence))
    if not found:
        return []
    boxes = np.array([f.box for f in found], np.float32)
    scores = np.array([f.confidence for f in found], np.float32)
    return [found[i] for i in _nms(boxes, scores, min_score)]


def detect_faces(rgb: np.ndarray, full_resolution: bool = False) -> list[Face]:
    """Faces in an RGB image, surest first; [] when there is none.

    full_resolution also searches tiles of large images for small faces (the
    backend's mode); the default is the browser's single-pass pipeline.
    """
    if full_resolution and max(rgb.shape[:2]) > TILE_ABOVE:
        faces = _detect_tiled(rgb)
        if faces:
            return faces
    for fill, min_score, min_share in DETECTION_PASSES:
        faces = _detect_in_square(rgb, fill, min_score, min_share)
        if faces:
            return faces
    return []


def colour_spread(crop: np.ndarray, top_share: float = GREY_TOP_SHARE) -> float:
    """The channel spread (max - min of R, G, B) that the top `top_share` of the
    crop's pixels reach: 0 for a black-and-white face, tens for a colour one."""
    spread = (np.max(crop, axis=-1) - np.min(crop, axis=-1)).ravel()
    k = max(1, int(spread.size * top_share))  # the k-th largest, as tf.topk gives it in the extension
    return float(np.partition(spread, spread.size - k)[spread.size - k])


def crop_face(rgb: np.ndarray, box, margin: float, size: int) -> np.ndarray:
    """The square face crop the model sees: size x size x 3 float32 in 0..255."""
    x, y, w, h = box
    side = max(_round(max(w, h) * (1 + 2 * margin)), 1)
    x0 = _round(x + w / 2 - side / 2)
    y0 = _round(y + h / 2 - side / 2)
    return resize_square(_place(rgb, x0, y0, side), size)
