"""Find the face in every manifest image once and cache the crops.

    python -m training.prepare --manifest ../shared/data/faces/manifest.csv

Writes `<cache_dir>/crops_<size>_m<margin>.npz` holding, in manifest order,
the face crops (uint8), labels, sources, splits, paths and whether a face was
found. Detection is the slow part of training on a CPU, so it runs once, on
the same scoring.faces code the backend uses.
"""

import argparse
import csv
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.crops import cached_pipeline, face_pipeline

LABELS = {"real": 0, "fake": 1}


def read_manifest(manifest: Path) -> list[dict]:
    """The manifest's rows with `path` made absolute; raises on a bad manifest."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise SystemExit(f"No manifest at {manifest}: pass --manifest path/to/manifest.csv.")
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"path", "label", "source", "split"}
    if not rows or not need <= set(rows[0]):
        raise SystemExit(f"{manifest} needs the columns {sorted(need)}.")
    for row in rows:
        row["path"] = str(manifest.parent / row["path"])
        if row["label"] not in LABELS:
            raise SystemExit(f"{manifest}: label {row['label']!r} is neither 'real' nor 'fake'.")
    return rows


def cache_path(cache_dir, size: int, margin: float) -> Path:
    return Path(cache_dir) / f"crops_{size}_m{margin}.npz"


def _crop_one(args):
    path, size, margin = args
    from scoring.faces import ImageError, crop_face, detect_faces, load_image

    try:
        rgb = load_image(Path(path).read_bytes())
    except ImageError:
        return None
    faces = detect_faces(rgb)
    if not faces:
        return None
    return np.round(crop_face(rgb, faces[0].box, margin, size)).astype(np.uint8)


def _init_worker():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def prepare(manifest, cache_dir, size: int, margin: float, workers: int = 2) -> Path:
    """Crop every manifest image's surest face; return the cache file path."""
    rows = read_manifest(manifest)
    out = cache_path(cache_dir, size, margin)
    out.parent.mkdir(parents=True, exist_ok=True)
    images = np.zeros((len(rows), size, size, 3), np.uint8)
    found = np.zeros(len(rows), bool)
    jobs = [(r["path"], size, margin) for r in rows]
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        results = pool.imap(_crop_one, jobs, chunksize=16)
        for i, crop in enumerate(tqdm(results, total=len(jobs), desc="face crops")):
            if crop is not None:
                images[i], found[i] = crop, True
    np.savez(
        out,
        images=images,
        found=found,
        labels=np.array([LABELS[r["label"]] for r in rows], np.int8),
        sources=np.array([r["source"] for r in rows]),
        splits=np.array([r["split"] for r in rows]),
        paths=np.array([r["path"] for r in rows]),
        pipeline=np.array(face_pipeline()),
    )
    print(f"{found.sum()} of {len(rows)} images have a face; crops in {out}")
    return out


def main():
    from training.config import TrainConfig

    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", default=cfg.manifest, help="manifest.csv of the face data set")
    p.add_argument("--cache-dir", default=cfg.cache_dir, help="where the crop cache is written")
    p.add_argument("--size", type=int, default=cfg.image_size, help="crop side in pixels")
    p.add_argument("--margin", type=float, default=cfg.margin, help="margin around the face box")
    p.add_argument("--workers", type=int, default=2, help="detector processes")
    p.add_argument("--force", action="store_true", help="crop again even if the cache exists")
    a = p.parse_args()
    cached = cache_path(a.cache_dir, a.size, a.margin)
    if cached.is_file() and not a.force:
        if cached_pipeline(cached) == face_pipeline():
            print(f"{cached} exists: crops kept (--force crops again)")
            return
        print(f"{cached} was cropped by another face pipeline (scoring/faces.py or its detector changed): cropping again")
    prepare(a.manifest, a.cache_dir, a.size, a.margin, a.workers)


if __name__ == "__main__":
    main()
