"""Small autoencoders trained here on real faces, one per upsampling kind.

Generators decode images with upsamplers of a few kinds, and each leaves its
own periodic traces. TAEF2 covers one decoder (nearest + conv); these cover
the others a detector should not be surprised by. They are trained briefly
on real face crops (L1 reconstruction) and only ever used to turn real crops
into fakes that differ from them in the decoder's traces.
"""

import numpy as np
import torch
from torch import nn

UPSAMPLERS = ("nearest", "transposed", "pixel_shuffle", "bilinear")
WIDTH = 48
LATENT_CHANNELS = 12  # at 1/4 of the side: 12/48 of the numbers, sharp enough that blur is not the tell


def _upsample(kind: str, c: int) -> nn.Module:
    if kind == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c, 3, padding=1))
    if kind == "bilinear":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(c, c, 3, padding=1))
    if kind == "transposed":
        return nn.ConvTranspose2d(c, c, 4, stride=2, padding=1)
    if kind == "pixel_shuffle":
        return nn.Sequential(nn.Conv2d(c, 4 * c, 3, padding=1), nn.PixelShuffle(2))
    raise ValueError(f"unknown upsampler {kind!r}: use one of {UPSAMPLERS}")


class SmallAutoencoder(nn.Module):
    """RGB 0..1 in and out; sides multiples of 4."""

    def __init__(self, upsampler: str):
        super().__init__()
        self.upsampler = upsampler
        self.encoder = nn.Sequential(
            nn.Conv2d(3, WIDTH, 3, padding=1), nn.ReLU(),
            nn.Conv2d(WIDTH, WIDTH, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(WIDTH, WIDTH, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(WIDTH, LATENT_CHANNELS, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(LATENT_CHANNELS, WIDTH, 3, padding=1), nn.ReLU(),
            _upsample(upsampler, WIDTH), nn.ReLU(), nn.Conv2d(WIDTH, WIDTH, 3, padding=1), nn.ReLU(),
            _upsample(upsampler, WIDTH), nn.ReLU(), nn.Conv2d(WIDTH, 3, 3, padding=1),
        )

    def forward(self, x):
        y = self.decoder(self.encoder(x))
        return y if self.training else y.clamp(0, 1)  # a clamp in training would stall pixels out of range


def train_autoencoder(upsampler: str, crops: np.ndarray, steps: int, seed: int,
                      patch: int = 64, batch_size: int = 16) -> SmallAutoencoder:
    """Fit one autoencoder to random patches of real uint8 crops (N, S, S, 3)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = SmallAutoencoder(upsampler)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    side = crops.shape[1]
    for _ in range(steps):
        idx = rng.integers(0, len(crops), batch_size)
        ys, xs = rng.integers(0, side - patch + 1, (2, batch_size))
        batch = np.stack([crops[i, y:y + patch, x:x + patch] for i, y, x in zip(idx, ys, xs)])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255
        loss = (model(x) - x).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.final_loss = float(loss.detach())
    return model.eval().requires_grad_(False)
