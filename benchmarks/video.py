"""Scoring server on video: seconds per minute of 720p video at the default sampling.

    python -m benchmarks --only video [--seconds 60] [--repeats 3]

Builds, in memory, a 720p 30 fps H.264 video (libx264, veryfast, CRF 21)
from the committed fixtures: the camera panning across the landscape photo,
a real and a fake fixture face gliding over it. Starts the server the way the README
does (gunicorn, 2 workers, default DFD_* settings: 2 frames scored a second)
on a free loopback port and posts the video to /api/v1/score-video, one
client and then two at once; every answer must find both faces, the fake
one called fake. Then, in this process with a worker's thread settings,
where the time goes: demuxing and decoding every frame, and scoring the
sampled ones; and what a video at the length limit would take.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import report
from benchmarks.backend_latency import GUNICORN, WORKERS, cpu_busy, gunicorn  # noqa: F401 (GUNICORN: same server)
from benchmarks.stats import load_average, shown

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
SIZE = (1280, 720)  # 720p
PANNED = (1600, 900)  # the background the frame pans across
FPS = 30  # the usual frame rate of web and phone video
FACE_SIDE = 260  # a face a third of the frame's height, as in an interview shot
FACES = ("real/dfdc_ikcxvepgks.jpg", "fake/dfdc_doanjploai.jpg")  # the fixture video's faces (harness/video.py)
BACKGROUND = "photos/landscape_china.jpg"
ENCODER_OPTIONS = {"preset": "veryfast", "crf": "21"}  # a web upload's bitrate; the preset only speeds up building it
REQUEST_TIMEOUT_S = 600
GUNICORN_TIMEOUT_S = 120  # backend/gunicorn.conf.py: a request over this is killed


def build_video(seconds: float) -> bytes:
    """The benchmark video: two fixture faces gliding over the landscape, 720p H.264 in MP4."""
    import av
    from PIL import Image

    # a background larger than the frame, panned across: the camera moves, as in most footage
    background = Image.open(FIXTURES / BACKGROUND).convert("RGB").resize(PANNED, Image.BICUBIC)
    faces = [Image.open(FIXTURES / "faces" / name).convert("RGB").resize((FACE_SIDE, FACE_SIDE)) for name in FACES]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS, options=ENCODER_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for i in range(int(seconds * FPS)):
            phase = 2 * np.pi * i / (FPS * 10)  # one slow loop every 10 s
            x = int((PANNED[0] - SIZE[0]) * (0.5 + 0.5 * np.sin(phase)))
            y = int((PANNED[1] - SIZE[1]) * (0.5 + 0.5 * np.cos(phase)))
            canvas = background.crop((x, y, x + SIZE[0], y + SIZE[1]))
            canvas.paste(faces[0], (int(160 + 120 * np.sin(phase)), 200))
            canvas.paste(faces[1], (int(820 + 120 * np.cos(phase)), 220))
            for packet in stream.encode(av.VideoFrame.from_image(canvas)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def post(base: str, data: bytes) -> tuple[float, dict]:
    """One video scored: client wall seconds and the answer, which must have found both faces."""
    import requests

    started = time.perf_counter()
    response = requests.post(f"{base}/api/v1/score-video", files={"video": ("clip.mp4", data)},
                             timeout=REQUEST_TIMEOUT_S)
    wall = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    verdicts = sorted(t["verdict"] for t in body["tracks"] if t["frames"] > 1)
    if body["verdict"] != "fake" or len(verdicts) < 2:
        raise SystemExit(f"the benchmark video came back as {body['verdict']} with tracks {verdicts}")
    return wall, body


def profile(data: bytes, threads: int) -> dict:
    """Seconds to decode every frame, and to convert and score the sampled ones, with one worker's threads."""
    import av

    from backend import create_app
    from backend.config import tf_threads
    from backend.model import get_classifier, get_explainer
    from backend.video import upright
    from scoring.faces import Face

    app = create_app({"TESTING": True, "WORKERS": WORKERS, "TF_THREADS": threads,
                      "REPORTS_DB": "sqlite://"})
    config = app.config
    step = 1.0 / config["VIDEO_SAMPLE_FPS"]
    with app.app_context():
        classifier = get_classifier()
        started = time.perf_counter()
        sampled = []
        with av.open(io.BytesIO(data), format="mov") as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_type = "AUTO"
            stream.codec_context.thread_count = tf_threads(config)
            frames, next_t = 0, 0.0
            for frame in container.decode(stream):
                frames += 1
                if frame.time + 1e-6 >= next_t and len(sampled) < 10:
                    sampled.append(frame)  # a few kept to time conversion and scoring apart from decoding
                    next_t += step
        decode_s = time.perf_counter() - started
        convert, score, crops = [], [], []
        for frame in sampled:
            t0 = time.perf_counter()
            rgb = upright(frame)
            t1 = time.perf_counter()
            result = classifier.score_image(rgb, full_resolution=True)
            convert.append(t1 - t0)
            score.append(time.perf_counter() - t1)
            crops += [classifier.crop(rgb, Face(f.box, f.detector_confidence)) for f in result.faces]
        heat = []
        for _ in range(3):  # the answer's heatmaps: one batch of VIDEO_THUMBNAILS crops
            t0 = time.perf_counter()
            get_explainer()(np.stack(crops[: config["VIDEO_THUMBNAILS"]]))
            heat.append(time.perf_counter() - t0)
    return {"frames": frames, "decode_s": decode_s, "convert_s": statistics.median(convert),
            "score_s": statistics.median(score), "heatmaps_s": statistics.median(heat[1:]),
            "first_heatmaps_s": heat[0], "threads": tf_threads(config),
            "max_seconds": config["VIDEO_MAX_SECONDS"], "max_frames": config["VIDEO_MAX_FRAMES"],
            "sample_fps": config["VIDEO_SAMPLE_FPS"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="length of the benchmark video")
    p.add_argument("--repeats", type=int, default=3, help="timed requests with one client")
    p.add_argument("--threads", type=int, default=0, help="DFD_TF_THREADS for the workers; 0: the backend's default")
    a = p.parse_args(argv)

    started = time.perf_counter()
    video = build_video(a.seconds)
    build_s = time.perf_counter() - started
    minutes = a.seconds / 60
    load_before = load_average()
    with gunicorn(a.threads) as (base, _log):
        post(base, build_video(2))  # warm-up: each worker's first video pays one-off costs
        post(base, build_video(2))
        one = [post(base, video) for _ in range(a.repeats)]
        cpu_before = cpu_busy()
        started = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as pool:
            both = list(pool.map(lambda _: post(base, video), range(WORKERS)))
        both_wall = time.perf_counter() - started
        cpu_after = cpu_busy()
    load_server = load_average()
    prof = profile(video, a.threads)
    load_after = load_average()

    body = one[0][1]
    wall = statistics.median(w for w, _ in one)
    server = statistics.median(b["elapsed_ms"] / 1000 for _, b in one)
    busy = (cpu_after[0] - cpu_before[0]) / max(cpu_after[1] - cpu_before[1], 1)
    scored = body["video"]["frames_scored"]
    decode_per_min = prof["decode_s"] / minutes
    # a video at the length limit: every frame decoded, at most VIDEO_MAX_FRAMES scored
    limit_min = prof["max_seconds"] / 60
    limit_frames = min(prof["max_frames"], int(prof["max_seconds"] * prof["sample_fps"]))
    limit_s = decode_per_min * limit_min + limit_frames * (prof["convert_s"] + prof["score_s"]) + prof["heatmaps_s"]
    label = f"{SIZE[1]}p {FPS} fps H.264, {len(video) / 1e6:.1f} MB, {a.seconds:g} s"
    rows = [
        {"measure": f"one request ({label}; {scored} frames scored, {len(body['tracks'])} tracks)",
         "s per min of video": shown(wall / minutes), "server s per min": shown(server / minutes),
         "n": len(one)},
        {"measure": f"{WORKERS} requests at once (cores {busy:.0%} busy)",
         "s per min of video": shown(both_wall / (WORKERS * minutes)), "server s per min": None,
         "n": WORKERS},
        {"measure": f"in-process: decode every frame ({prof['frames']} frames, {prof['threads']} thread(s))",
         "s per min of video": shown(decode_per_min), "server s per min": None, "n": 1},
        {"measure": f"in-process: score the sampled frames ({scored}: RGB conversion "
                    f"{prof['convert_s'] * 1000:.0f} ms + faces {prof['score_s'] * 1000:.0f} ms a frame)",
         "s per min of video": shown(scored * (prof["convert_s"] + prof["score_s"]) / minutes),
         "server s per min": None, "n": 10},
        {"measure": f"in-process: heatmaps of the 4 most suspicious faces (first call in a process "
                    f"{prof['first_heatmaps_s']:.1f} s)",
         "s per min of video": shown(prof["heatmaps_s"] / minutes), "server s per min": None, "n": 2},
        {"measure": f"estimate: a {limit_min:g}-minute 720p video (DFD_VIDEO_MAX_SECONDS; "
                    f"{limit_frames} frames scored)",
         "s per min of video": shown(limit_s / limit_min), "server s per min": None, "n": None},
    ]
    notes = (
        f"Command: `python -m benchmarks --only video --seconds {a.seconds:g} --repeats {a.repeats}`. "
        f"gunicorn with {WORKERS} sync workers (backend/gunicorn.conf.py), default settings "
        f"({prof['sample_fps']:g} frames scored a second, {prof['threads']} thread(s) per worker for decoding, "
        "detection and classification), loopback, client wall times including the upload. The video is built "
        f"in memory from the fixtures ({build_s:.0f} s to encode) and each answer must find both faces, "
        f"the fake one fake. One request takes {wall:.1f} s for {a.seconds:g} s of video "
        f"({wall / minutes:.1f} s a minute); a video at the {limit_min:g}-minute limit would take about "
        f"{limit_s:.0f} s against gunicorn's {GUNICORN_TIMEOUT_S} s request timeout. "
        f"Load average (1 min): {load_before:.2f} before, {load_server:.2f} after the server runs, "
        f"{load_after:.2f} after the profile, on {os.cpu_count()} cores."
    )
    report.write("video", "Scoring server: seconds per minute of 720p video", rows, notes)
    print(report.markdown_table(rows))
    print(notes)
