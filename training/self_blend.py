"""Self-blended faces: a real face blended into a slightly altered copy of itself.

The fake differs from its source only at a soft, face-shaped seam and in the
small colour, scale and position shifts inside it: the traces that face swaps
and local edits leave, without any one swapping tool's look (Shiohara and
Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022). There
are no landmarks in the crop cache, so the mask is a randomly deformed ellipse
where the product's crop puts the face: the face box fills the middle
1 / (1 + 2 * margin) of the crop. NumPy and Pillow only, for loader workers.
"""

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI's: mostly a full swap, sometimes a faint one
MAX_SHIFT = 0.03  # of the crop side: a swapped face never sits exactly on its target


def face_mask(size: int, margin: float, rng: np.random.Generator) -> np.ndarray:
    """A soft mask (size x size, 0..1) over the face: a wobbly ellipse, blurred at a random width."""
    face = size / (1 + 2 * margin)  # the detector's face box, in crop pixels
    cy, cx = size / 2 + rng.uniform(-0.05, 0.08) * face, size / 2 + rng.uniform(-0.04, 0.04) * face
    ry, rx = face * rng.uniform(0.38, 0.55), face * rng.uniform(0.32, 0.45)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = np.arctan2((yy - cy) / ry, (xx - cx) / rx)
    # a few low harmonics of the angle make the outline irregular, like a jaw or hairline
    wobble = sum(rng.uniform(-0.08, 0.08) * np.cos(k * angle + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4))
    inside = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) <= (1 + wobble) ** 2
    mask = Image.fromarray(inside.astype(np.uint8) * 255)
    mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.02, 0.08) * face))
    return np.asarray(mask, np.float32) / 255.0


def _altered_copy(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The same face with what differs between two shots of it: colour, sharpness, scale, position."""
    size = img.width
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.9, 1.1))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.9, 1.1))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.85, 1.15))
    shift = rng.uniform(-12, 12, size=3)
    img = Image.fromarray(np.clip(np.asarray(img, np.float32) + shift, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    elif rng.random() < 0.5:
        img = img.filter(ImageFilter.UnsharpMask(2, int(rng.integers(50, 150)), 2))
    scale = rng.uniform(0.92, 1.08)
    resized = img.resize((max(int(size * scale), 8),) * 2, Image.BILINEAR)
    dx, dy = (rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=2) * size).round().astype(int)
    out = img.copy()
    offset = (size - resized.width) // 2
    out.paste(resized, (offset + dx, offset + dy))
    return out


def self_blend(crop: np.ndarray, margin: float, rng: np.random.Generator) -> np.ndarray:
    """A fake made from one real uint8 face crop, the same size."""
    img = Image.fromarray(crop)
    source = np.asarray(_altered_copy(img, rng), np.float32)
    mask = face_mask(crop.shape[0], margin, rng)[..., None] * rng.choice(BLEND_RATIOS)
    blended = source * mask + crop.astype(np.float32) * (1 - mask)
    return np.clip(blended.round(), 0, 255).astype(np.uint8)
