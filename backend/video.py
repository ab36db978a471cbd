"""POST /api/v1/score-video: the faces in a video file, followed and scored over time.

The upload stays in memory; PyAV (FFmpeg's libraries) reads the header
first, so an over-long, over-large or absurd video is refused before a frame
is decoded. Frames then stream through one at a time: every 1/VIDEO_SAMPLE_FPS
seconds one is scored with the image endpoint's pipeline (full-resolution
face search, the same classifier) and dropped, so memory holds one frame,
the tracks' numbers and a few thumbnails, whatever the video's length. No
frame is written to disk.
"""

from __future__ import annotations

import base64
import heapq
import io
import itertools
import math
import time
from dataclasses import dataclass, field

import av
import numpy as np
from flask import Blueprint, abort, current_app, jsonify, request
from PIL import Image

from backend.api import require_token, uploaded_bytes
from backend.config import tf_threads
from backend.model import get_classifier, get_explainer
from scoring.explain import overlay_png, png_data_url
from scoring.faces import Face

bp = Blueprint("video", __name__, url_prefix="/api/v1")
bp.before_request(require_token)

# the demuxers we open, by the file's first bytes; naming one stops FFmpeg from
# guessing formats that read other files or URLs (HLS playlists, concat lists)
MATROSKA_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM and MKV
MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")  # MP4 and MOV open with one of these
THUMB_SIDE = 320  # long side of a frame thumbnail: enough to see the scene, ~20 KB as JPEG
THUMB_QUALITY = 80
# a video whose frames stop this far before the end its header declares is cut short
TRUNCATED_SLACK_S, TRUNCATED_SLACK_SHARE = 1.0, 0.1


@bp.before_request
def video_upload_limit():
    """Videos get their own upload limit (DFD_VIDEO_MAX_UPLOAD_MB), read before the body is."""
    request.max_content_length = int(current_app.config["VIDEO_MAX_UPLOAD_MB"] * 1_000_000)


class VideoError(Exception):
    """A video we will not score: the HTTP status and one sentence saying why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Track:
    """One face followed across samples: its boxes, scores and times."""

    id: int
    times: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    greys: list = field(default_factory=list)

    @property
    def last_box(self):
        return self.boxes[-1]

    def score(self) -> float:
        """The mean of the top quartile of its scores: a few fake-looking frames count, one outlier does not rule."""
        k = math.ceil(len(self.scores) / 4)
        return float(np.mean(sorted(self.scores, reverse=True)[:k]))

    def greyscale(self) -> bool:
        return sum(self.greys) * 2 > len(self.greys)


def box_iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Links each sample's faces to the tracks they continue, by box overlap."""

    def __init__(self, min_iou: float, max_gap_s: float):
        self.min_iou, self.max_gap_s = min_iou, max_gap_s
        self.tracks: list[Track] = []

    def add(self, t: float, faces) -> list[Track]:
        """Add one sample's faces (FaceScore); returns the track each joined, in order."""
        live = [tr for tr in self.tracks if t - tr.times[-1] <= self.max_gap_s]
        pairs = sorted(
            ((box_iou(f.box, tr.last_box), i, j) for i, f in enumerate(faces) for j, tr in enumerate(live)),
            reverse=True,
        )
        joined: dict[int, Track] = {}
        taken = set()
        for iou, i, j in pairs:
            # greedy, best overlap first: enough for faces that do not cross each other between samples
            if iou < self.min_iou:
                break
            if i in joined or j in taken:
                continue
            joined[i] = live[j]
            taken.add(j)
        out = []
        for i, f in enumerate(faces):
            track = joined.get(i)
            if track is None:
                track = Track(len(self.tracks) + 1)
                self.tracks.append(track)
            track.times.append(t)
            track.boxes.append(f.box)
            track.scores.append(f.score)
            track.greys.append(f.greyscale)
            out.append(track)
        return out


def container_format(head: bytes) -> str:
    """The demuxer for these first bytes, or VideoError 415."""
    if head[:4] == MATROSKA_MAGIC:
        return "matroska"
    if head[4:8] in MP4_BOXES:
        return "mov"
    raise VideoError(415, "The file is not a video we read; send MP4, WebM or MOV.")


def _seconds(value, time_base) -> float | None:
    return float(value * time_base) if value is not None and time_base is not None else None


def _clock(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


def declared_duration(container, stream) -> float | None:
    """Seconds the header says the video lasts: its stream's, else the container's."""
    seconds = _seconds(stream.duration, stream.time_base)
    if seconds is None and container.duration is not None:
        seconds = container.duration / av.time_base
    return seconds


def measured_duration(data: bytes, fmt: str) -> float | None:
    """Seconds from the first to the end of the last video packet, read without decoding a frame.

    For videos whose header gives no length (a browser's MediaRecorder WebM):
    demuxing only reads packet headers, a small cost next to decoding.
    """
    first = end = None
    try:
        with av.open(io.BytesIO(data), format=fmt) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.pts is None or packet.time_base is None:
                    continue
                start = float(packet.pts * packet.time_base)
                first = start if first is None else min(first, start)
                end = max(end or start, start + float((packet.duration or 0) * packet.time_base))
    except av.FFmpegError:
        pass  # decoding says what is wrong with the file
    return None if first is None else end - first


def check_header(container, config, data: bytes, fmt: str) -> tuple:
    """The video stream and its duration, once both are within limits (else VideoError)."""
    if not container.streams.video:
        raise VideoError(422, "The file holds no video stream (sound only?); send a video with pictures.")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    check_size(width, height, config)
    duration = declared_duration(container, stream)
    if duration is None:
        duration = measured_duration(data, fmt)
    if duration is not None and duration > config["VIDEO_MAX_SECONDS"]:
        raise VideoError(413, f"The video lasts {_clock(duration)}, over the "
                              f"{config['VIDEO_MAX_SECONDS']:g} s limit; send a shorter clip.")
    return stream, duration


def check_size(width: int, height: int, config) -> None:
    """Refuse frames without a size or over VIDEO_MAX_PIXELS."""
    if width <= 0 or height <= 0:
        raise VideoError(422, "The video gives no usable frame size; it is damaged or not a video.")
    limit = config["VIDEO_MAX_PIXELS"]
    if width * height > limit:
        raise VideoError(422, f"The video is {width}x{height}, over the {limit / 1e6:.1f} megapixel limit "
                              "a frame; send 4K or smaller.")


def upright(frame) -> np.ndarray:
    """The frame as HxWx3 RGB, turned as its display matrix says (phones store portrait video sideways)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round((frame.rotation or 0) / 90) % 4
    # rotation is counter-clockwise in degrees, as np.rot90 turns
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def frame_thumbnail(rgb: np.ndarray) -> str:
    """A small JPEG of the frame, as a data: URL."""
    img = Image.fromarray(rgb)
    img.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=THUMB_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sample_times(duration: float | None, config):
    """Seconds between scored frames: 1/VIDEO_SAMPLE_FPS, spread out so at most VIDEO_MAX_FRAMES are scored."""
    step = 1.0 / config["VIDEO_SAMPLE_FPS"]
    if duration:
        step = max(step, duration / config["VIDEO_MAX_FRAMES"])
    return step


def score_video(data: bytes, config) -> dict:
    """Decode, sample, score and track; the answer's body (raises VideoError for videos we refuse)."""
    fmt = container_format(data[:8])
    classifier = get_classifier()
    try:
        container = av.open(io.BytesIO(data), format=fmt)
    except av.FFmpegError as e:
        raise VideoError(422, f"The video is damaged or truncated ({_reason(e)}).") from None
    with container:
        stream, duration = check_header(container, config, data, fmt)
        # frame and slice threads, this worker's share of the cores: decoding is much of the time
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = tf_threads(config)
        step = sample_times(duration, config)
        tracker = Tracker(config["VIDEO_TRACK_IOU"], config["VIDEO_TRACK_GAP_S"])
        best = []  # min-heap of the most suspicious samples: (score, order, time, track id, box, crop, thumbnail)
        order = itertools.count()
        keep = max(0, config["VIDEO_THUMBNAILS"])
        next_t, sampled, last_t, index, origin, shown = 0.0, 0, None, 0, None, None
        rate = float(stream.average_rate or 0) or None
        try:
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else (index / rate if rate else float(index))
                # times from the first frame: B-frame delays without an edit list (fragmented MP4) start later than 0
                origin = t if origin is None else origin
                t -= origin
                index += 1
                last_t = t
                if t > config["VIDEO_MAX_SECONDS"]:
                    raise VideoError(413, f"The video runs past the {config['VIDEO_MAX_SECONDS']:g} s limit; "
                                          "send a shorter clip.")
                if sampled >= config["VIDEO_MAX_FRAMES"]:
                    break  # the samples spread over the known duration: the last one is scored
                if t + 1e-6 < next_t:
                    continue
                check_size(frame.width, frame.height, config)
                next_t = max(next_t + step, t + step / 2)  # keep to the grid, but never two samples in a burst
                sampled += 1
                rgb = upright(frame)
                shown = rgb.shape[1], rgb.shape[0]  # as a player shows it: boxes are in these pixels
                result = classifier.score_image(rgb, full_resolution=True)
                tracks = tracker.add(t, result.faces)
                if keep and result.faces:
                    worst = max(range(len(result.faces)), key=lambda i: result.faces[i].score)
                    face = result.faces[worst]
                    if len(best) < keep or face.score > best[0][0]:
                        crop = classifier.crop(rgb, Face(face.box, face.detector_confidence))
                        item = (face.score, next(order), t, tracks[worst].id, face.box, crop, frame_thumbnail(rgb))
                        (heapq.heappush if len(best) < keep else heapq.heappushpop)(best, item)
        except av.FFmpegError as e:
            at = f" at {last_t:.1f} s" if last_t is not None else ""
            raise VideoError(422, f"The video is damaged or truncated{at} ({_reason(e)}).") from None
        if index == 0:
            raise VideoError(422, "The video holds no frame we could decode; it is damaged or truncated.")
        audio = bool(container.streams.audio)
        if sampled < config["VIDEO_MAX_FRAMES"] and _cut_short(duration, last_t, audio and stream.duration is None):
            raise VideoError(422, f"The video stops at {last_t:.1f} s of the {duration:.1f} s its header declares; "
                                  "it is damaged or truncated.")
        width, height = shown or (stream.codec_context.width, stream.codec_context.height)

    return _answer(classifier, tracker.tracks, best, {
        "width": width, "height": height,
        "duration_s": round(duration if duration is not None else (last_t or 0.0), 3),
        "frames_scored": sampled, "sample_every_s": round(step, 4),
    })


def _reason(e: av.FFmpegError) -> str:
    return (e.strerror or type(e).__name__).rstrip(".")


def _cut_short(duration: float | None, last_t: float | None, audio_may_be_longer: bool) -> bool:
    """Frames stop well before the declared end (a WebM cut short decodes quietly to its last whole frame)."""
    if duration is None or last_t is None or audio_may_be_longer:
        return False
    return last_t < duration - max(TRUNCATED_SLACK_S, TRUNCATED_SLACK_SHARE * duration)


def _answer(classifier, tracks: list[Track], best: list, video: dict) -> dict:
    summaries = []
    for tr in tracks:
        score, grey = tr.score(), tr.greyscale()
        summaries.append({
            "id": tr.id,
            "verdict": classifier.verdict(score, grey),
            "score": score,
            "greyscale": grey,
            "first_seen_s": round(tr.times[0], 3),
            "last_seen_s": round(tr.times[-1], 3),
            "frames": len(tr.times),
            "timeline": [
                {"time_s": round(t, 3), "score": float(s), "box": [round(v, 1) for v in b]}
                for t, s, b in zip(tr.times, tr.scores, tr.boxes)
            ],
        })
    worst = max(summaries, key=lambda s: s["score"], default=None)
    best = sorted(best, reverse=True)
    heats = get_explainer()(np.stack([item[5] for item in best])) if best else []
    frames = [
        {"time_s": round(t, 3), "track": track_id, "score": float(score), "box": [round(v, 1) for v in box],
         "frame": thumb, "heatmap": png_data_url(overlay_png(crop, heat))}
        for (score, _, t, track_id, box, crop, thumb), heat in zip(best, heats)
    ]
    return {
        "verdict": worst["verdict"] if worst else "no_face",
        "score": worst["score"] if worst else None,
        "tracks": summaries,
        "suspicious_frames": frames,
        "video": video,
        "model": {"name": classifier.name, "version": classifier.version},
    }


@bp.post("/score-video")
def score_video_view():
    """Follow every face through a video and score it over time; the verdict is the most suspicious face's."""
    started = time.perf_counter()
    data = uploaded_bytes("video")
    try:
        body = score_video(data, current_app.config)
    except VideoError as e:
        abort(e.status, str(e))
    body["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return jsonify(body)
