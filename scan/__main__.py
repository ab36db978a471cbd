"""`python -m scan PATH_OR_LIST --out results.jsonl`: score a collection, resumably, here or on Ray."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from scan import inputs, results, runners
from scan.worker import ScanSettings

DEFAULT_CHUNK = 8  # images per batch handed to a worker: small enough that Ctrl-C loses little
LOG_EVERY_S = 10.0  # without a terminal: one progress line this often


class Progress:
    """A tqdm bar (images/s, faces/s, ETA) on a terminal; plain log lines otherwise.

    Rates count from the first finished image, so loading the models does not drag them down.
    """

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.stream = total, stream
        self.done = self.faces = self.errors = 0
        self.started = time.monotonic()
        self.first = None  # (time, faces) when the first image finished
        self.logged = 0.0
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", desc="scan", file=stream, dynamic_ncols=True)

    def update(self, row: dict) -> None:
        self.done += 1
        self.faces += len(row.get("faces") or [])
        self.errors += bool(row.get("error"))
        now = time.monotonic()
        if self.first is None:
            self.first = (now, self.faces)
            self.logged = now
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"{self.rates()[1]:.1f} faces/s, {self.errors} errors", refresh=False)
        elif now - self.logged >= LOG_EVERY_S or self.done == self.total:
            self.logged = now
            print(self.line(), file=self.stream, flush=True)

    def rates(self) -> tuple[float, float]:
        """(images/s, faces/s) since the first image finished; zeros until a second one has."""
        if self.first is None or self.done < 2:
            return 0.0, 0.0
        elapsed = max(time.monotonic() - self.first[0], 1e-9)
        return (self.done - 1) / elapsed, (self.faces - self.first[1]) / elapsed

    def line(self) -> str:
        images_s, faces_s = self.rates()
        eta = (self.total - self.done) / images_s if images_s > 0 else float("nan")
        return (f"scan: {self.done}/{self.total} images, {images_s:.1f} images/s, {faces_s:.1f} faces/s, "
                f"{self.errors} errors, ETA {_duration(eta)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan: no rate yet
        return "?"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s"


def settings_from_env(model_dir: str | None) -> ScanSettings:
    """The server's model folder and limits (DFD_* variables, backend/config.py) for every worker."""
    from backend.config import from_env

    server = from_env()
    return ScanSettings(
        model_dir=str(Path(model_dir or server["MODEL_DIR"]).resolve()),
        allow_private_urls=server["ALLOW_PRIVATE_URLS"],
        fetch_timeout_s=server["FETCH_TIMEOUT_S"],
        fetch_max_bytes=int(server["FETCH_MAX_MB"] * 1_000_000),
        file_max_bytes=int(server["MAX_UPLOAD_MB"] * 1_000_000),
        c2pa_trust_anchors=str(Path(server["C2PA_TRUST_ANCHORS"]).resolve()) if server["C2PA_TRUST_ANCHORS"] else "",
    )


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m scan", description="Score a collection of images, resumably, here or on Ray.")
    p.add_argument("sources", nargs="+", metavar="PATH_OR_LIST",
                   help="a folder (searched recursively for JPEG, PNG, WebP, GIF, BMP), an image, a text file "
                        "with one path or http(s) URL a line (paths relative to the file), or a CSV")
    p.add_argument("--out", required=True, help="results, one JSON line per image; rerunning with it resumes")
    p.add_argument("--csv", help="also write a CSV summary (source, verdict, score, faces, error) of all results")
    p.add_argument("--column", help="the CSV column with the paths or URLs (default: path, url, image, file...)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes here, or the most Ray actors (default: all cores, or all CPU slots)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray: the cluster at ADDRESS, else the one `ray start` runs here, else a local one")
    p.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help=f"images per batch (default {DEFAULT_CHUNK})")
    p.add_argument("--retry-errors", action="store_true", help="score again the images whose rows hold an error")
    p.add_argument("--model-dir", help="model folder (default: DFD_MODEL_DIR or shipped_model/)")
    args = p.parse_args(argv)
    if args.workers < 0 or args.chunk < 1:
        p.error("--workers needs 0 or more and --chunk 1 or more.")
    return p, args


def main(argv=None) -> int:
    p, args = parse_args(argv)
    from scoring.model_config import MODEL_FILE, SHIPPED_MODEL_DIR, ModelConfig, ModelConfigError

    settings = settings_from_env(args.model_dir)
    try:
        from backend import provenance

        provenance.trust_anchors(settings.c2pa_trust_anchors)  # a bad file is said now, not once per image
    except ValueError as e:
        p.error(str(e))
    if args.ray is not None and importlib.util.find_spec("ray") is None:
        p.error("--ray needs Ray, which a server install leaves out: pip install -r requirements/build.txt")
    model = Path(settings.model_dir)
    if not (model / MODEL_FILE).is_file():
        p.error(f"{model / MODEL_FILE} is missing; point --model-dir at {SHIPPED_MODEL_DIR} or at a packaged model.")
    try:
        ModelConfig.load(model)  # a bad config is said now, not once per worker
    except ModelConfigError as e:
        p.error(str(e))
    try:
        items = inputs.collect(args.sources, args.column)
    except (inputs.InputError, OSError) as e:
        p.error(str(e))
    if not items:
        p.error(f"found no images in {', '.join(args.sources)}.")

    try:
        out = results.Results(Path(args.out))
    except results.ResultsError as e:
        p.error(str(e))
    skip = out.done(args.retry_errors)
    todo = [item for item in items if item.name not in skip]
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"scan: {len(items)} images, {len(items) - len(todo)} already in {args.out}, {len(todo)} to score")
    if out.unreadable:
        log(f"scan: {out.unreadable} line(s) of {args.out} are not results rows; left as they are")

    progress = Progress(len(todo))
    interrupted, failed = False, None
    try:
        if todo:
            if args.ray is not None:
                rows = runners.run_ray(todo, settings, args.ray or None, args.workers or None, args.chunk, log)
            else:
                workers = max(1, min(args.workers or os.cpu_count() or 1, len(todo)))
                rows = runners.run_local(todo, settings, workers, args.chunk)
            for row in rows:
                out.append(row)
                progress.update(row)
    except KeyboardInterrupt:
        interrupted = True
    except (BrokenProcessPool, RuntimeError) as e:
        # a worker that died (memory) or could not load the model, or a Ray cluster without workers
        failed = str(e) or "a worker process died, out of memory or unable to load the model"
    finally:
        progress.close()
        out.close()

    scanned = [out.rows[item.name] for item in items if item.name in out.rows]
    if args.csv:
        results.write_csv(scanned, Path(args.csv))
    print(results.counts_table(scanned))
    elapsed = time.monotonic() - progress.started
    log(f"scan: {progress.done} scored in this run in {_duration(elapsed)} ({progress.rates()[0]:.1f} images/s "
        f"once the model had loaded), {len(scanned)} of {len(items)} in {args.out}")
    left = len(items) - len(scanned)
    if interrupted:
        log(f"scan: interrupted; run the same command again to score the {left} left")
        return 130
    if failed:
        log(f"scan: stopped: {failed}. The rows so far are kept; run the same command again to score the {left} left")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
