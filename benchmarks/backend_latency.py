"""Scoring server latency and throughput: gunicorn with 2 workers on loopback.

    python -m benchmarks --only backend [--seconds 20] [--repeats 20] [--threads N]

Starts the server the way the README does (`gunicorn -c backend/gunicorn.conf.py`,
settings from DFD_* variables, 2 workers) on a free 127.0.0.1 port, and stops
it whatever happens. Two photos are built in memory from the committed
fixtures, fixture faces pasted onto the landscape fixture: a 1 MP (1152x864,
4:3) photo with one face and a 12 MP (4000x3000) photo with several (the
backend also searches it in tiles). Each must come back with its faces
found, or the run fails.

Reported: p50/p95 of sequential requests after warm-up (client wall time and
the server's elapsed_ms), images/s with 1, 4 and 16 concurrent clients
posting the 1 MP photo for a fixed time each, and where the time of one 1 MP
request goes, timed in this process with the backend's own model loader and
thread settings (decode, detection split into its passes, crop, classify).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmarks import report
from benchmarks.stats import load_average, percentile, shown

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
GUNICORN = Path(sys.executable).parent / "gunicorn"
WORKERS = 2  # the setting and the backend's default
CLIENTS = (1, 4, 16)
WARMUP = 3  # requests per photo before timing: first requests pay TensorFlow's one-off costs
REQUEST_TIMEOUT_S = 120  # 16 clients queue behind 2 single-request workers
JPEG_QUALITY = 90
BACKGROUND = "photos/landscape_china.jpg"
# faces by file name: found in tests/fixtures/faces/*/ (real/, fake/, or misjudged/
# once a model errs on one), so the photos stay the same from model to model
# the 1 MP photo: one face, as a phone photo of one person scaled for the web
ONE_MP = {"size": (1152, 864), "faces": [("lfw_faceswap_real_3459.jpg", (380, 200), 432)]}
# the 12 MP photo: a group, faces of several sources and sizes; 6 pasted, 8 faces in all
# (lfw_faceswap_fake_2856 shows two men behind its subject, and the detector finds them)
TWELVE_MP = {
    "size": (4000, 3000),
    "faces": [
        ("lfw_faceswap_real_4136.jpg", (300, 400), 800),
        ("lfw_faceswap_fake_1938.jpg", (1500, 300), 800),
        ("stylegan_ffhq_00115.jpg", (2700, 500), 700),
        ("stylegan_ffhq_0QM7BRITYM.jpg", (500, 1700), 700),
        ("dfdc_nczdvzbdfg.jpg", (1700, 1600), 900),
        ("lfw_faceswap_fake_2856.jpg", (2900, 1800), 800),
    ],
}
MIN_FACES = {"1 MP": 1, "12 MP": 4}  # fewer found means the photo is not the one described
TARGET_1MP_P50_MS = 80
SCORED_LINE = re.compile(r"\[(\d+)\] INFO POST /api/v1/score 200 ")  # the app's access line, with the worker's pid
TARGET_16_CLIENTS_IPS = 25


def compose(spec: dict) -> bytes:
    """A JPEG of spec["size"]: the background fixture with fixture faces pasted on, in memory."""
    from PIL import Image

    canvas = Image.open(FIXTURES / BACKGROUND).convert("RGB").resize(spec["size"], Image.BICUBIC)
    for name, at, side in spec["faces"]:
        (path,) = (FIXTURES / "faces").glob(f"*/{name}")
        face = Image.open(path).convert("RGB").resize((side, side), Image.BICUBIC)
        canvas.paste(face, at)
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


@contextmanager
def gunicorn(threads: int):
    """gunicorn with WORKERS workers on a free loopback port; yields (base URL, log path); always stopped."""
    from harness.servers import free_port, running_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {"DFD_HOST": "127.0.0.1", "DFD_PORT": str(port), "DFD_WORKERS": str(WORKERS), "DFD_API_TOKEN": ""}
    if threads:
        settings["DFD_TF_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory(prefix="bench-backend-") as tmp:
        command = [str(GUNICORN), "-c", "backend/gunicorn.conf.py"]
        with running_server(command, settings, Path(tmp) / "server.log", base, processes=WORKERS):
            yield base, Path(tmp) / "server.log"


def scored_per_worker(log_path: Path) -> dict[str, int]:
    """How many images each worker (by pid) has scored so far, from the server log."""
    counts: dict[str, int] = {}
    for pid in SCORED_LINE.findall(log_path.read_text(errors="replace")):
        counts[pid] = counts.get(pid, 0) + 1
    return counts


def cpu_busy() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of all cores since boot, from /proc/stat.

    Steal is time the hypervisor gave this machine's cores to others: a slower run with steal shows it.
    """
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields), fields[7]


def post(session, base: str, data: bytes) -> tuple[float, dict]:
    """One scoring request: client wall ms and the JSON answer."""
    started = time.perf_counter()
    response = session.post(
        f"{base}/api/v1/score", files={"image": ("photo.jpg", data)}, timeout=REQUEST_TIMEOUT_S
    )
    ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return ms, response.json()


def latency(base: str, name: str, data: bytes, repeats: int) -> dict:
    """Sequential requests after warm-up; fails if the photo's faces are not found."""
    import requests

    with requests.Session() as session:
        for _ in range(WARMUP):
            _, answer = post(session, base, data)
        found = len(answer["faces"])
        if found < MIN_FACES[name]:
            raise RuntimeError(f"the {name} photo came back with {found} faces; it was built with more.")
        wall, server = [], []
        for _ in range(repeats):
            ms, answer = post(session, base, data)
            wall.append(ms)
            server.append(answer["elapsed_ms"])
    w, h = answer["image"]["width"], answer["image"]["height"]
    return {"photo": name, "pixels": f"{w}x{h}", "bytes": len(data), "faces": found, "wall": wall, "server": server}


def throughput(base: str, log_path: Path, data: bytes, clients: int, seconds: float) -> dict:
    """`clients` threads post the photo back to back for `seconds`; images/s over the whole run.

    Also: how the requests spread over the workers, and how busy the machine's cores were (all processes).
    """
    import requests

    deadline = time.perf_counter() + seconds

    def client(_):
        times = []
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                times.append(post(session, base, data)[0])
        return times

    before, cpu_before = scored_per_worker(log_path), cpu_busy()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        per_client = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - started  # the last answer included: no request is cut off
    cpu_after = cpu_busy()
    time.sleep(0.5)  # the workers' last log lines
    after = scored_per_worker(log_path)
    wall = [ms for times in per_client for ms in times]
    return {
        "clients": clients, "requests": len(wall), "seconds": elapsed, "ips": len(wall) / elapsed, "wall": wall,
        "per_worker": sorted((after[pid] - before.get(pid, 0) for pid in after), reverse=True),
        "cpu_busy": (cpu_after[0] - cpu_before[0]) / max(cpu_after[1] - cpu_before[1], 1),
        "cpu_steal": (cpu_after[2] - cpu_before[2]) / max(cpu_after[1] - cpu_before[1], 1),
    }


@contextmanager
def timed_calls(module, names: list[str], totals: dict):
    """Add the time and count of module.<name>() calls to totals while the block runs."""
    originals = {name: getattr(module, name) for name in names}

    def wrap(name, fn):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                ms, n = totals.get(name, (0.0, 0))
                totals[name] = (ms + (time.perf_counter() - started) * 1000, n + 1)

        return timed

    try:
        for name, fn in originals.items():
            setattr(module, name, wrap(name, fn))
        yield totals
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


def profile_1mp(data: bytes, threads: int, repeats: int) -> dict:
    """Median ms of each step of a 1 MP request, in this process, set up as a gunicorn worker is."""
    os.environ["DFD_WORKERS"] = str(WORKERS)
    os.environ["DFD_API_TOKEN"] = ""  # as the benchmark's server runs
    if threads:
        os.environ["DFD_TF_THREADS"] = str(threads)
    from backend import create_app
    from backend.model import get_classifier
    from scoring import faces

    app = create_app()
    client = app.test_client()
    with app.app_context():
        classifier = get_classifier()
    steps: dict[str, list[float]] = {}
    detect_parts: dict[str, list[float]] = {}
    passes = 0

    def clock(name, fn, *args, **kwargs):
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        steps.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        return out

    for i in range(WARMUP + repeats):
        rgb = clock("decode", faces.load_image, data)
        totals: dict = {}
        with timed_calls(faces, ["_detect_in_square", "resize_square", "_nms"], totals):
            found = clock("detect", faces.detect_faces, rgb, full_resolution=True)
        crops = clock("crop", lambda: np.stack([classifier.crop(rgb, f) for f in found]))
        clock("classify", classifier.score_crops, crops)
        clock("score_image (all of the above but decode)", classifier.score_image, rgb, full_resolution=True)
        answer = clock("whole request through the app (Flask test client, no HTTP)", client.post, "/api/v1/score",
                       data={"image": (io.BytesIO(data), "photo.jpg")})
        if answer.status_code != 200:
            raise RuntimeError(f"the app answered {answer.status_code}: {answer.get_data(as_text=True)[:200]}")
        passes = totals["_detect_in_square"][1]
        detect_parts.setdefault("resize (halving + bilinear)", []).append(totals["resize_square"][0])
        detect_parts.setdefault("non-max suppression", []).append(totals["_nms"][0])
        if i < WARMUP:
            steps.clear()
            detect_parts.clear()
    import tensorflow as tf

    # the same forward pass in TensorFlow, as the Classifier ran it before XNNPACK
    in_tensorflow = tf.function(lambda x: classifier.model(x, training=False))
    tf_graph = []
    for _ in range(WARMUP + repeats):
        started = time.perf_counter()
        in_tensorflow(crops.astype(np.float32)).numpy()
        tf_graph.append((time.perf_counter() - started) * 1000)
    return {
        "steps": {k: statistics.median(v) for k, v in steps.items()},
        "detect_parts": {k: statistics.median(v) for k, v in detect_parts.items()},
        "passes": passes,
        "faces": len(found),
        "tf_graph_forward_ms": statistics.median(tf_graph[WARMUP:]),
        "threads": classifier_threads(),
    }


def classifier_threads() -> int:
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads()


def main(argv=None):
    from scoring.faces import TILE_ABOVE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="seconds of load per concurrency level")
    p.add_argument("--repeats", type=int, default=20, help="timed sequential requests per photo (12 MP: half)")
    p.add_argument("--threads", type=int, default=0, help="DFD_TF_THREADS for the workers; 0: the backend's default")
    a = p.parse_args(argv)

    photos = {"1 MP": compose(ONE_MP), "12 MP": compose(TWELVE_MP)}
    load_before = load_average()
    with gunicorn(a.threads) as (base, log_path):
        lat = [
            latency(base, "1 MP", photos["1 MP"], a.repeats),
            latency(base, "12 MP", photos["12 MP"], max(a.repeats // 2, 3)),
        ]
        runs = [throughput(base, log_path, photos["1 MP"], n, a.seconds) for n in CLIENTS]
    load_server = load_average()
    prof = profile_1mp(photos["1 MP"], a.threads, max(a.repeats // 2, 5))
    load_after = load_average()

    rows = []
    for r in lat:
        p50 = percentile(r["wall"], 50)
        tiled = "tiled" if max(map(int, r["pixels"].split("x"))) > TILE_ABOVE else "not tiled"
        rows.append({
            "measure": f"latency, {r['photo']} ({r['pixels']}, {tiled}, {r['bytes'] / 1e6:.1f} MB JPEG, "
                       f"{r['faces']} face{'s' if r['faces'] > 1 else ''})",
            "p50 ms": shown(p50),
            "p95 ms": shown(percentile(r["wall"], 95)),
            "server p50 ms": shown(percentile(r["server"], 50)),
            "images/s": None,
            "n": len(r["wall"]),
            "target": f"p50 <= {TARGET_1MP_P50_MS} ms" if r["photo"] == "1 MP" else "",
            "met": ("yes" if p50 <= TARGET_1MP_P50_MS else "no") if r["photo"] == "1 MP" else "",
        })
    for r in runs:
        rows.append({
            "measure": f"throughput, 1 MP, {r['clients']} concurrent client{'s' if r['clients'] > 1 else ''} "
                       f"(per worker {'/'.join(map(str, r['per_worker']))}; cores {r['cpu_busy']:.0%} busy, "
                       f"{r['cpu_steal']:.0%} stolen)",
            "p50 ms": shown(percentile(r["wall"], 50)),
            "p95 ms": shown(percentile(r["wall"], 95)),
            "server p50 ms": None,
            "images/s": round(r["ips"], 2),
            "n": r["requests"],
            "target": f">= {TARGET_16_CLIENTS_IPS} images/s" if r["clients"] == 16 else "",
            "met": ("yes" if r["ips"] >= TARGET_16_CLIENTS_IPS else "no") if r["clients"] == 16 else "",
        })
    steps, parts = prof["steps"], prof["detect_parts"]
    detector_ms = steps["detect"] - sum(parts.values())
    passes = f"{prof['passes']} detector pass{'es' if prof['passes'] > 1 else ''}"
    passes += ", whole image and tiles" if max(ONE_MP["size"]) > TILE_ABOVE else f", no tiles under {TILE_ABOVE} px"
    breakdown = (
        f"decode {steps['decode']:.0f} ms, detection {steps['detect']:.0f} ms ({passes}; of which resizing "
        f"{parts['resize (halving + bilinear)']:.0f} ms, NMS {parts['non-max suppression']:.1f} ms, BlazeFace and "
        f"letterboxing {detector_ms:.0f} ms), crop {steps['crop']:.1f} ms, classification {steps['classify']:.0f} ms "
        f"({prof['faces']} face, one pass on XNNPACK "
        "(LiteRT); the same faces through the Keras model as one traced TensorFlow graph take "
        f"{prof['tf_graph_forward_ms']:.0f} ms); the whole request through the app without HTTP "
        f"{steps['whole request through the app (Flask test client, no HTTP)']:.0f} ms"
    )
    one_mp, sixteen = rows[0], rows[-1]
    notes = (
        f"Command: `python -m benchmarks --only backend --seconds {a.seconds:g} --repeats {a.repeats}"
        f"{f' --threads {a.threads}' if a.threads else ''}`. gunicorn with {WORKERS} sync workers "
        f"(backend/gunicorn.conf.py), {prof['threads']} thread(s) per worker for TensorFlow (detection) and "
        "XNNPACK (classification), loopback; client wall times include the upload. Photos are built from the "
        "fixtures (a face pasted on the landscape photo) "
        f"and must come back with their faces. Where one 1 MP request goes (in-process, median of "
        f"{max(a.repeats // 2, 5)}, same model loader and threads as a worker): {breakdown}. "
        f"1 MP p50 {one_mp['p50 ms']:.0f} ms against a target of {TARGET_1MP_P50_MS} ms; "
        f"{sixteen['images/s']:.1f} images/s at 16 clients against {TARGET_16_CLIENTS_IPS}. "
        f"Load average (1 min): {load_before:.2f} before, {load_server:.2f} after the server runs, "
        f"{load_after:.2f} after the profile, on {os.cpu_count()} cores."
    )
    report.write(
        "backend",
        "Scoring server: latency and throughput (gunicorn, 2 workers)",
        rows,
        notes,
        {
            "load_average_1min": {"before": load_before, "after_server": load_server, "after_profile": load_after},
            "profile_1mp_ms": prof,
            "throughput_runs": [{k: v for k, v in r.items() if k != "wall"} for r in runs],
            "settings": {"workers": WORKERS, "tf_threads": prof["threads"], "seconds": a.seconds, "repeats": a.repeats},
        },
    )
    print(report.markdown_table(rows))
    print(notes)


if __name__ == "__main__":
    main()
