"""The classifier in PyTorch, the one the trainer trains (training.train).

Its state_dict keys and shapes are torchvision's MobileNetV2 (torchvision's
ImageNet file loads into it as is), so `training.model.load_torchvision_state`
copies a GPU-trained net into the Keras model one to one. Built here rather
than from torchvision: the same layout table as the Keras model
(training.architecture), and no torchvision build to match to the torch one.
"""

import torch
import torch.nn.functional as F
from torch import nn

from training.architecture import BN_EPS, IMAGENET_MEAN, IMAGENET_STD, INVERTED_RESIDUALS


def _conv_bn_relu(cin, cout, kernel, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=BN_EPS),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        layers = [] if expansion == 1 else [_conv_bn_relu(cin, hidden, 1, 1)]
        layers += [
            _conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout, eps=BN_EPS),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class DeepfakeMobileNetV2(nn.Module):
    """uint8 RGB NCHW in, P(fake) logit out; scaling, ImageNet normalisation and any resize inside.

    inner_size: the side the crop is resized to before the first convolution
    (bilinear, half-pixel centres: Keras' Resizing and TF.js' resizeBilinear
    compute the same); 0 keeps the crop's own size.
    """

    def __init__(self, dropout: float = 0.2, inner_size: int = 0):
        super().__init__()
        self.inner_size = inner_size
        blocks, channels = [_conv_bn_relu(3, 32, 3, 2)], 32
        for t, c, n, s in INVERTED_RESIDUALS:
            for i in range(n):
                blocks.append(InvertedResidual(channels, c, s if i == 0 else 1, t))
                channels = c
        blocks.append(_conv_bn_relu(channels, 1280, 1, 1))
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, 1))
        for m in self.modules():  # torchvision's initialisation, for runs without ImageNet weights
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    def forward(self, x):
        x = (x.float() - self.mean) / self.std
        if self.inner_size and x.shape[-1] != self.inner_size:
            x = F.interpolate(x, size=(self.inner_size, self.inner_size), mode="bilinear", align_corners=False)
        x = self.features(x).mean((2, 3))
        return self.classifier(x)[:, 0]

    def load_imagenet(self, path) -> int:
        """torchvision's ImageNet weights for every layer but the 1000-class head."""
        state = torch.load(path, map_location="cpu")
        features = {k: v for k, v in state.items() if k.startswith("features.")}
        missing, unexpected = self.load_state_dict(features, strict=False)
        wrong = [k for k in missing if k.startswith("features.")] + unexpected
        if wrong:
            raise SystemExit(f"{path} is not torchvision's MobileNetV2: {wrong[:5]}")
        return len(features)
