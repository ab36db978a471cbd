"""Small videos the tests make with PyAV from the committed fixture faces, so their tracks are known."""

from __future__ import annotations

import fractions
import io
import struct
from pathlib import Path

import av
import numpy as np
from PIL import Image

from harness import FIXTURES

# faces the shipped model calls plainly real (0.03) and plainly fake (0.98), also after H.264 at this size
# (chosen because it scores them right: tests on them are regression pins, not accuracy evidence)
REAL_FACE = FIXTURES / "faces" / "real" / "dfdc_ikcxvepgks.jpg"
FAKE_FACE = FIXTURES / "faces" / "fake" / "dfdc_doanjploai.jpg"
CANVAS = (512, 288)  # width, height: even sides, as yuv420p needs
FACE_SIDE = 224  # the DFDC crops' own size
FPS = 10
SECONDS_EACH = 2  # the real face shows for 2 s on the left, then the fake face for 2 s on the right
DRIFT_PX = 3  # each face slides this far a frame, so tracks follow moving boxes
BACKGROUND = (52, 60, 70)


def face(path: Path) -> Image.Image:
    return Image.open(path).convert("RGB").resize((FACE_SIDE, FACE_SIDE))


def real_then_fake_frames(fps: int = FPS, seconds_each: int = SECONDS_EACH):
    """The real face drifting right on the left, then the fake face drifting left on the right."""
    real, fake = face(REAL_FACE), face(FAKE_FACE)
    top = (CANVAS[1] - FACE_SIDE) // 2
    for i in range(fps * seconds_each):
        canvas = Image.new("RGB", CANVAS, BACKGROUND)
        canvas.paste(real, (i * DRIFT_PX, top))
        yield canvas
    for i in range(fps * seconds_each):
        canvas = Image.new("RGB", CANVAS, BACKGROUND)
        canvas.paste(fake, (CANVAS[0] - FACE_SIDE - i * DRIFT_PX, top))
        yield canvas


def encode(frames, fmt: str = "mp4", codec: str = "libx264", fps: int = FPS, size=CANVAS,
           times_s=None, options=None, display_rotation: int = 0) -> bytes:
    """Encode PIL images (or arrays) into a video in memory; times_s places frames at those seconds;
    display_rotation (degrees counter-clockwise) tells players to turn the frames, as phones do."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt, options=options or {}) as out:
        stream = out.add_stream(codec, rate=None if times_s else fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if display_rotation:
            stream.set_display_rotation(display_rotation)
        if times_s:
            stream.time_base = fractions.Fraction(1, 1000)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.asarray(img, np.uint8), format="rgb24")
            if times_s:
                frame.pts, frame.time_base = round(times_s[i] * 1000), stream.time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def real_then_fake(fmt: str = "mp4", codec: str = "libx264") -> bytes:
    """The 4-second fixture video: one real face, then one fake face."""
    return encode(real_then_fake_frames(), fmt, codec)


def grey_frames(n: int, size=(64, 48)):
    return [Image.new("RGB", size, (128, 128, 128)) for _ in range(n)]


def ten_hours() -> bytes:
    """Two tiny frames ten hours apart: a 10-hour video of 2 KB."""
    return encode(grey_frames(2), size=(64, 48), times_s=[0.0, 36_000.0])


def eight_k() -> bytes:
    """One grey 7680x4320 frame: a few KB that would decode to 100 MB."""
    return encode(grey_frames(1, (7680, 4320)), size=(7680, 4320))


def absurd_dimensions() -> bytes:
    """A one-frame MOV of raw pixels whose header is rewritten to claim 16000x16000 (768 MB a frame as RGB)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mov") as out:
        stream = out.add_stream("rawvideo", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        for packet in stream.encode(av.VideoFrame.from_image(grey_frames(1)[0])):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = bytearray(buffer.getvalue())
    entry = data.index(b"raw ")  # the sample description: width and height are 16-bit, 28 bytes in
    data[entry + 28:entry + 32] = struct.pack(">HH", 16000, 16000)
    return bytes(data)


def audio_only() -> bytes:
    """An MP4 with one second of AAC silence and no picture."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=16000)
        for i in range(16):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def portrait_phone_video() -> bytes:
    """The fixture video as a phone stores portrait video: frames turned sideways, a display rotation to undo it."""
    # stored turned clockwise; the display matrix turns them back counter-clockwise
    frames = [img.transpose(Image.Transpose.ROTATE_270) for img in real_then_fake_frames()]
    return encode(frames, size=(CANVAS[1], CANVAS[0]), display_rotation=90)
