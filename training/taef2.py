"""TAEF2, the tiny autoencoder distilled from FLUX.2's, to make fakes out of real faces.

A real face encoded and decoded by a generator's autoencoder differs from the
original only in the decoder's traces, which every image of that generator
family carries ("aligned" training data; Rajan et al., ICLR 2025). The weights
are madebyollin/taesd's (MIT), in ../shared/weights/taef2/; the layout follows
that folder's README.
"""

from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR = Path("../shared/weights/taef2")  # beside the project; see its README
LATENT_CHANNELS = 32
WIDTH = 64


def _conv(cin, cout, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, **kwargs)


def _pool(c) -> nn.Sequential:
    """The 1x1 bottleneck some blocks add to their input first."""
    return nn.Sequential(
        nn.Conv2d(c, 4 * c, 1, bias=False), nn.GroupNorm(4, 4 * c), nn.ReLU(), nn.Conv2d(4 * c, c, 1, bias=False)
    )


class Block(nn.Module):
    def __init__(self, c, pool=False):
        super().__init__()
        self.pool = _pool(c) if pool else None
        self.conv = nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c), nn.ReLU(), _conv(c, c))
        self.fuse = nn.ReLU()

    def forward(self, x):
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


class _Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


def encoder() -> nn.Sequential:
    layers = [_conv(3, WIDTH), Block(WIDTH)]
    for stage in range(3):
        layers += [_conv(WIDTH, WIDTH, stride=2, bias=False)]
        layers += [Block(WIDTH, pool=stage == 2) for _ in range(3)]
    return nn.Sequential(*layers, _conv(WIDTH, LATENT_CHANNELS))


def decoder() -> nn.Sequential:
    layers = [_Clamp(), _conv(LATENT_CHANNELS, WIDTH), nn.ReLU()]
    layers += [Block(WIDTH, pool=True) for _ in range(3)]
    for stage in range(3):
        layers += [nn.Upsample(scale_factor=2), _conv(WIDTH, WIDTH, bias=False)]
        layers += [Block(WIDTH) for _ in range(3 if stage < 2 else 1)]
    return nn.Sequential(*layers, _conv(WIDTH, 3))


class TAEF2(nn.Module):
    """RGB 0..1 in, its FLUX.2-style reconstruction out (sides multiples of 8)."""

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = encoder(), decoder()

    @classmethod
    def load(cls, weights_dir=WEIGHTS_DIR) -> "TAEF2":
        weights_dir = Path(weights_dir)
        model = cls()
        for part in ("encoder", "decoder"):
            path = weights_dir / f"taef2_{part}.pth"
            if not path.is_file():
                raise SystemExit(f"No {path}: pass --taef2-dir, the folder with taef2_encoder.pth and taef2_decoder.pth.")
            getattr(model, part).load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval().requires_grad_(False)

    def forward(self, x):
        return self.decoder(self.encoder(x)).clamp(0, 1)
