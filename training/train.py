"""Train the classifier, on a CUDA GPU or on the CPU, in PyTorch: the one trainer.

    python -m training.train                                   # the recipe in training/config.py
    python -m training.train --out runs/train/x.pt --epochs 3  # any field of TrainConfig is a flag
    python -m training.train --teachers A.pt B.pt              # distil the runs' mean score into one net
    python -m training.package runs/train/classifier.pt --version 1.5.0   # then: a candidate folder

The network (training.torch_model, torchvision's layout and ImageNet
weights) learns from the face crops of training.prepare, the fakes made from
their reals (training.synthesize's reconstructions, self-blends made here),
half real and half fake by source, with web-style degradations on every
face; the epoch with the best val AUC is kept. Keras is only the shipped
format: training.package copies the net into it. Needs torch, NumPy, Pillow,
scikit-learn and tqdm; not TensorFlow.

Each epoch appends its row (loss, lr, val AUC by source) to RUN.log and
leaves RUN.ckpt (net, optimizer, schedule, random states); `--resume`
carries an interrupted run on from its last finished epoch, with the same
recipe. RUN.json (the recipe, the best val AUC, every epoch) is written last.

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

from training.architecture import imagenet_weights_path
from training.augment_pil import augment
from training.calibrate import auc_by_source
from training.config import TrainConfig
from training.crops import Crops, load_split
from training.prepare import cache_path
from training.self_blend import self_blend
from training.synthesize import made_from, synthetic_path
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
        raise SystemExit(f"{path} not found: pass a state_dict written by training.train --out.")
    return torch.load(path, map_location="cpu")


def run_summary(path) -> dict:
    """What a run wrote beside its weights (RUN.json: its recipe and figures); {} where there is none."""
    summary = Path(path).with_suffix(".json")
    return json.loads(summary.read_text()) if summary.is_file() else {}


def load_run(path, summary: dict | None = None) -> DeepfakeMobileNetV2:
    """A finished run's net, at the working size its recipe (`summary`, read from RUN.json if not given) trained it at."""
    recipe = (run_summary(path) if summary is None else summary).get("config", {})
    net = DeepfakeMobileNetV2(inner_size=recipe.get("inner_size", 0))
    net.load_state_dict(load_state(path))
    return net


def load_teacher(path, device) -> torch.nn.Module:
    teacher = load_run(path)
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


# fields a resumed run may change: where it runs and writes, not what it learns
RESUMABLE_CHANGES = {"workers", "out"}


def checkpoint_path(out) -> Path:
    return Path(out).with_suffix(".ckpt")


def save_atomically(obj, path: Path) -> None:
    """A run killed while saving keeps its previous checkpoint whole."""
    partial = path.with_name(path.name + ".partial")
    torch.save(obj, partial)
    os.replace(partial, path)


def load_checkpoint(cfg: TrainConfig) -> dict:
    """The last finished epoch of an interrupted run of this recipe."""
    path = checkpoint_path(cfg.out)
    if not path.is_file():
        raise SystemExit(f"{path} not found: nothing to resume. Run without --resume to start this run.")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "config" not in ckpt:
        raise SystemExit(f"{path} was written by training.train_gpu, before the recipe was one dataclass: "
                         "finish it with that version, or start afresh without --resume.")
    changed = sorted(
        k for k, v in cfg.to_dict().items()
        if k not in RESUMABLE_CHANGES and ckpt["config"].get(k) != v
    )
    if changed:
        raise SystemExit(
            f"{path} was written with another recipe ({', '.join(changed)}): "
            "resume with the arguments of the interrupted run, or start afresh without --resume."
        )
    return ckpt


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Run the recipe; return the path of the best epoch's state_dict (RUN.json beside it)."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda":
        print("no CUDA device: training on the CPU (hours at the default schedule; see scripts/train.sh)")
    torch.backends.cudnn.benchmark = True

    model = DeepfakeMobileNetV2(cfg.dropout, cfg.inner_size)
    if cfg.init:
        start = load_run(cfg.init)
        if start.inner_size != cfg.inner_size:  # the weights fit any size; the scores do not carry over unchanged
            print(f"{cfg.init} worked at {start.inner_size or cfg.image_size} px; this run works at "
                  f"{cfg.inner_size or cfg.image_size} px (--inner-size)")
        model.load_state_dict(start.state_dict())
    elif cfg.weights != "random":
        model.load_imagenet(cfg.weights or imagenet_weights_path())
    model = model.to(device).to(memory_format=torch.channels_last)
    teachers = [load_teacher(path, device) for path in cfg.teachers]
    ckpt = load_checkpoint(cfg) if resume else None
    # after the weights and checkpoint: a wrong path fails in seconds, not after reading the crops
    cache = crop_cache(cfg)
    synthetic = synthetic_path(cache)
    train_crops = load_split(cache, "train")
    reconstructions = load_reconstructions(synthetic, "train", cfg.autoencoders)
    if reconstructions is None and cfg.fake_weights.get("reconstruction"):
        raise SystemExit(f"No reconstructions at {synthetic}: run python -m training.synthesize first.")
    if reconstructions is not None and not made_from(synthetic, cache):
        raise SystemExit(f"{synthetic} was made from other face crops than {cache}'s: "
                         "run python -m training.synthesize.")
    train_faces = TrainingFaces(train_crops, reconstructions, cfg)
    val_faces, val_groups = validation_faces(
        load_split(cache, "val"), load_reconstructions(synthetic, "val", cfg.autoencoders), cfg)
    print(f"train {len(train_faces)} items, val {int(val_groups['chosen'].sum())} faces to choose on "
          f"(left out: {', '.join(cfg.leave_out) or 'none'}), on {device}")

    steps_per_epoch = cfg.samples_per_epoch // cfg.batch_size
    optimizer = torch.optim.AdamW(
        [{"params": model.features.parameters(), "lr": cfg.learning_rate * cfg.backbone_lr_scale},
         {"params": model.classifier.parameters(), "lr": cfg.learning_rate}],
        weight_decay=cfg.weight_decay)

    def lr_factor(step):
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        total = cfg.epochs * steps_per_epoch
        progress = min((step - cfg.warmup_steps) / max(total - cfg.warmup_steps, 1), 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(
        train_faces,
        batch_size=cfg.batch_size,
        sampler=source_balanced_sampler(train_faces, cfg, steps_per_epoch * cfg.batch_size, generator),
        num_workers=cfg.workers,
        worker_init_fn=_seed_worker,
        generator=generator,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=cfg.workers > 0,
        prefetch_factor=4 if cfg.workers > 0 else None,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    out = Path(cfg.out)
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
        print(f"resuming {out} after epoch {epoch} of {cfg.epochs} (best val AUC so far {best:.4f})")
    else:
        log.write_text("")
    while epoch < cfg.epochs:
        epoch_start, losses = time.time(), []
        for x, y in tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, mininterval=5):
            x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = y.to(device, torch.float32) * (1 - cfg.label_smoothing) + 0.5 * cfg.label_smoothing
            with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x).float()
                loss = loss_fn(logits, y)
                if teachers:
                    loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * loss_fn(logits, teacher_scores(teachers, x))
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
            "lr": optimizer.param_groups[-1]["lr"],
            "seconds": round(seconds, 1),
            "images_per_s": round(steps_per_epoch * cfg.batch_size / seconds),
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
            "config": cfg.to_dict(), "model": cpu_state(model), "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(), "generator": generator.get_state(),
            "augment_rng": loader.dataset.rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
        }, checkpoint_path(out))
    summary = {
        "best_val_auc": best,
        "minutes": round((time.time() - started) / 60, 1),
        "config": cfg.to_dict(),
        "history": history,
    }
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"best val AUC {best:.4f}; weights in {out}")
    return out


def crop_cache(cfg: TrainConfig) -> Path:
    """The face crops training.prepare wrote for this recipe's size and margin."""
    return cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)


def _share(text: str) -> tuple[str, float]:
    source, _, share = text.partition("=")
    try:
        return source, float(share)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write SOURCE=SHARE, e.g. dfdc=0.5") from None


def _reasons() -> dict:
    """Each TrainConfig field's one-line comment in training/config.py, its flag's help."""
    import inspect
    import re

    lines = inspect.getsource(TrainConfig).splitlines()
    return {m[1]: m[2] for m in (re.match(r"\s+(\w+): [^#]*#\s*(.*)", line) for line in lines) if m}


def _flag(p: argparse.ArgumentParser, name: str, default, reason: str = "") -> None:
    """One flag for one TrainConfig field, typed by its default; only given flags reach the namespace."""
    flag, kwargs = "--" + name.replace("_", "-"), {"default": argparse.SUPPRESS}
    if isinstance(default, dict):  # SOURCE=SHARE ...
        kwargs.update(nargs="*", type=_share, metavar="SOURCE=SHARE")
        shown = " ".join(f"{k}={v}" for k, v in default.items())
    elif isinstance(default, tuple):  # a range is as long as its default; a list of names any length
        numeric = bool(default) and all(isinstance(v, (int, float)) for v in default)
        kwargs.update(nargs=len(default) if numeric else "*", type=type(default[0]) if numeric else str)
        shown = " ".join(map(str, default)) or "none"
    elif isinstance(default, bool):
        kwargs.update(type=lambda s: s.lower() in ("1", "true", "yes"))
        shown = default
    else:
        kwargs.update(type=type(default))
        shown = repr(default) if default == "" else default
    p.add_argument(flag, help=f"{reason}{'; ' if reason else ''}default {shown}", **kwargs)


def parse_args(argv=None) -> tuple[TrainConfig, bool]:
    """TrainConfig's defaults, overridden by the flags given; and whether to resume."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog="Every flag is a field of training/config.py's TrainConfig, where its reason is.")
    defaults, reasons = TrainConfig(), _reasons()
    for name in TrainConfig.field_names():
        _flag(p, name, getattr(defaults, name), reasons.get(name, "").replace("%", "%%"))
    p.add_argument("--resume", action="store_true",
                   help="carry an interrupted run on from its last epoch (RUN.ckpt beside --out)")
    given = vars(p.parse_args(argv))
    resume = given.pop("resume")
    for name, value in given.items():
        default = getattr(defaults, name)
        given[name] = dict(value) if isinstance(default, dict) else tuple(value) if isinstance(default, tuple) else value
    cfg = TrainConfig(**given)
    if "epochs" not in given and cfg.teachers:
        cfg.epochs = cfg.distill_epochs
    return cfg, resume


def main(argv=None):
    cfg, resume = parse_args(argv)
    train(cfg, resume)


if __name__ == "__main__":
    main()
