"""Batch scanner throughput: images/s on this machine's cores, locally and through a local Ray instance.

    python -m benchmarks --only scan [--images 400] [--chunk 8]

Builds 1 MP photos with one face the way the backend benchmark does (a
fixture face pasted on the landscape fixture, 1152x864 JPEG), a few faces
in turn, written as --images files to a temporary folder, and scans them
with scan's own runners and results file: local worker processes (1, then
all cores) and Ray actors (1, then all cores) on a Ray instance started
here with ray.init and stopped at the end. Each run must find the face in
every photo, or the benchmark fails.

Throughput counts the steady state: the rows after the first quarter (and
at least WARM_BATCHES batches per worker), so loading the model in every
worker (and starting Ray's actors) is left out; that start-up is reported
beside it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks import report
from benchmarks.backend_latency import ONE_MP, compose, cpu_busy
from benchmarks.stats import load_average

# the faces pasted in turn (tests/fixtures/faces/*/): real and fake, three sources
FACES = ("lfw_faceswap_real_3459.jpg", "lfw_faceswap_fake_1938.jpg", "dfdc_ikcxvepgks.jpg",
         "dfdc_doanjploai.jpg", "stylegan_ffhq_00115.jpg", "stylegan_ffhq_01R3N4195O.jpg")
WARM_BATCHES = 2  # batches per worker before the clock starts: the first one waits for the model
TARGET_LOCAL_IPS = 20  # the target for 2 cores


def photos(folder: Path, count: int) -> list[Path]:
    """`count` 1 MP JPEGs with one face each, the FACES in turn."""
    variants = []
    for name in FACES:
        _, at, side = ONE_MP["faces"][0]
        variants.append(compose({"size": ONE_MP["size"], "faces": [(name, at, side)]}))
    paths = []
    for i in range(count):
        path = folder / f"photo_{i:05d}.jpg"
        path.write_bytes(variants[i % len(variants)])
        paths.append(path)
    return paths


def scan_run(label: str, rows, out: Path, workers: int, chunk: int, total: int) -> dict:
    """Drain a runner into a results file as the CLI does; images/s and faces/s in the steady state."""
    from scan.results import Results

    results = Results(out)
    load_before, cpu_before = load_average(), cpu_busy()
    started = time.perf_counter()
    arrivals, faces = [], []
    for row in rows:
        results.append(row)
        if row["error"] or len(row["faces"]) != 1:
            raise RuntimeError(f"{label}: {row['path']} came back with {row['error'] or len(row['faces'])} "
                               "instead of its one face.")
        arrivals.append(time.perf_counter())
        faces.append(len(row["faces"]))
    results.close()
    cpu_after = cpu_busy()
    warm = min(max(workers * chunk * WARM_BATCHES, total // 4), total // 2)
    seconds = arrivals[-1] - arrivals[warm]
    return {
        "label": label, "workers": workers, "images": total, "timed": total - warm - 1,
        "ips": (total - warm - 1) / seconds, "faces_s": sum(faces[warm + 1:]) / seconds,
        "startup_s": arrivals[0] - started, "wall_s": arrivals[-1] - started,
        # how busy all the machine's cores were (every process, ours and others'), and the load before
        "cpu_busy": (cpu_after[0] - cpu_before[0]) / max(cpu_after[1] - cpu_before[1], 1),
        "load_before": load_before,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=600, help="photos per run (each run scans all of them)")
    p.add_argument("--chunk", type=int, default=8, help="images per batch, as scan's --chunk")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    import ray

    from scan.__main__ import settings_from_env
    from scan.inputs import collect
    from scan.runners import run_local, run_ray

    cores = os.cpu_count() or 1
    settings = settings_from_env(None)
    runs = []
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        photos(folder, a.images)
        items = collect([str(folder)])
        for workers in sorted({1, cores}):
            # worker processes of 1 thread each, as the Ray actors: 1 process gives the rate of one core
            rows = run_local(items, settings, workers, a.chunk, threads=1, in_process=False)
            runs.append(scan_run(f"local, {workers} process(es)", rows, Path(tmp) / f"local{workers}.jsonl",
                                 workers, a.chunk, len(items)))
            print(runs[-1], flush=True)
        started = time.perf_counter()
        ray.init(num_cpus=cores, include_dashboard=False, logging_level="WARNING")
        ray_start_s = time.perf_counter() - started
        try:
            for workers in sorted({1, cores}):
                rows = run_ray(items, settings, None, workers, a.chunk, log=lambda _: None)
                runs.append(scan_run(f"Ray, {workers} actor(s)", rows, Path(tmp) / f"ray{workers}.jsonl",
                                     workers, a.chunk, len(items)))
                print(runs[-1], flush=True)
        finally:
            ray.shutdown()
    load_after = load_average()

    local = {r["workers"]: r for r in runs if r["label"].startswith("local")}
    on_ray = {r["workers"]: r for r in runs if r["label"].startswith("Ray")}
    rows = []
    for r in runs:
        is_local_all = r["label"].startswith("local") and r["workers"] == cores
        base = local[r["workers"]]
        rows.append({
            "run": f"{r['label']} (load {r['load_before']:.1f} before; cores {r['cpu_busy']:.0%} busy)",
            "images/s": round(r["ips"], 1),
            "faces/s": round(r["faces_s"], 1),
            "per worker images/s": round(r["ips"] / r["workers"], 1),
            "vs local, same workers": "" if r is base else f"{r['ips'] / base['ips']:.2f}",
            "start-up s": round(r["startup_s"], 1),
            "images": r["images"],
            "target": f">= {TARGET_LOCAL_IPS} images/s" if is_local_all else "",
            "met": ("yes" if r["ips"] >= TARGET_LOCAL_IPS else "no") if is_local_all else "",
        })
    one, all_ = local[1], local[cores]
    notes = (
        f"Command: `python -m benchmarks --only scan --images {a.images} --chunk {a.chunk}`. "
        f"{a.images} photos of 1152x864 (1 MP JPEG, one face: {len(FACES)} fixture faces in turn on the landscape "
        "fixture, as the backend benchmark builds them), scanned with scan's runners into a results file; every "
        "row must carry its one face. images/s counts the rows after the first quarter "
        "(every worker's model loaded by then); start-up is the time to the first row "
        f"(TensorFlow and the model in each worker; Ray's own start, {ray_start_s:.1f} s, is not in it). "
        "Every worker (process or actor) runs TensorFlow and XNNPACK on 1 thread. "
        f"Local: {one['ips']:.1f} images/s on 1 process (one core's rate), {all_['ips']:.1f} on {cores} "
        f"({all_['ips'] / one['ips']:.2f}x for {cores}x the processes). "
        f"Ray on this machine: {on_ray[cores]['ips'] / all_['ips']:.2f}x the local rate with {cores} actors, "
        f"{on_ray[1]['ips'] / one['ips']:.2f}x with 1 (files read by the driver and sent to the actors, results "
        "sent back; the driver shares the cores with the actors). "
        f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after, on {cores} cores shared with "
        "other work: figures move with the host's load."
    )
    report.write("scan", "Batch scanner: images/s on this machine, locally and through Ray", rows, notes,
                 {"runs": runs, "ray_start_s": ray_start_s,
                  "settings": {"images": a.images, "chunk": a.chunk, "cores": cores}})
    print(report.markdown_table(rows))
    print(notes)


if __name__ == "__main__":
    main()
