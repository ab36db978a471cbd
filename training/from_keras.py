"""A shipped (BatchNorm-folded) Keras classifier as a PyTorch state_dict, to train on from it.

    python -m training.from_keras shipped_model/deepfake_classifier.keras runs/shipped.pt

The shipped network has no BatchNorm left: each convolution carries its
bias. The PyTorch twin (training.torch_model) keeps BatchNorm, so each one is
set to give back exactly the folded convolution's output in eval mode, with
running statistics measured on real training crops; in train mode its batch
statistics are then close to those, and fine-tuning starts where the shipped
model is instead of from a net that batch statistics have scrambled.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from training.architecture import BN_EPS
from training.model import _torch_blocks
from training.torch_model import DeepfakeMobileNetV2


def folded_weights(keras_path) -> tuple[dict, np.ndarray, np.ndarray, int]:
    """{torch conv key: (weight OIHW, bias)}, the head and the working size, from a folded .keras file."""
    import keras

    from training.model import inner_size

    model = keras.models.load_model(keras_path, compile=False)
    names = {layer.name for layer in model.layers}
    out = {}
    for prefix, conv_key, bn_key in _torch_blocks():
        if f"{prefix}_dw" in names:
            kernel, bias = model.get_layer(f"{prefix}_dw").get_weights()  # (kh, kw, c, 1)
            weight = kernel.transpose(2, 3, 0, 1)
        else:
            kernel, bias = model.get_layer(f"{prefix}_conv").get_weights()  # (kh, kw, in, out)
            weight = kernel.transpose(3, 2, 0, 1)
        out[conv_key] = (weight, bias, bn_key)
    head_w, head_b = model.get_layer("fake_probability").get_weights()
    return out, head_w.T, head_b, inner_size(model)


@torch.no_grad()
def port(keras_path, calibration_crops: np.ndarray) -> DeepfakeMobileNetV2:
    """The Keras net in PyTorch: same scores in eval mode, BatchNorm statistics from these crops."""
    convs, head_w, head_b, inner = folded_weights(keras_path)
    net = DeepfakeMobileNetV2(inner_size=inner)
    state = net.state_dict()
    for conv_key, (weight, bias, bn_key) in convs.items():
        state[f"{conv_key}.weight"] = torch.from_numpy(weight.copy())
        # identity BatchNorm first: eval output = conv + bias, the folded layer
        state[f"{bn_key}.weight"] = torch.ones(len(bias))
        state[f"{bn_key}.bias"] = torch.from_numpy(bias.copy())
        state[f"{bn_key}.running_mean"] = torch.zeros(len(bias))
        state[f"{bn_key}.running_var"] = torch.full((len(bias),), 1 - BN_EPS)
    state["classifier.1.weight"] = torch.from_numpy(head_w.copy())
    state["classifier.1.bias"] = torch.from_numpy(head_b.copy())
    net.load_state_dict(state)
    net.eval()
    # mean and spread of each convolution's output (before its bias) on real crops
    stats, hooks = {}, []
    for conv_key, (_, _, bn_key) in convs.items():
        conv = net.get_submodule(conv_key)
        hooks.append(conv.register_forward_hook(
            lambda m, i, o, k=bn_key: stats.setdefault(k, []).append(
                (o.mean((0, 2, 3)), (o * o).mean((0, 2, 3))))))
    for start in range(0, len(calibration_crops), 64):
        net(torch.from_numpy(calibration_crops[start:start + 64].transpose(0, 3, 1, 2).copy()))
    for h in hooks:
        h.remove()
    for bn_key, parts in stats.items():
        mean = torch.stack([p[0] for p in parts]).mean(0)
        var = (torch.stack([p[1] for p in parts]).mean(0) - mean**2).clamp_min(2 * BN_EPS)
        bn = net.get_submodule(bn_key)
        # (z - mean) / std * std + mean + bias = z + bias: eval scores unchanged
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var - BN_EPS)
        bn.weight.copy_(var.sqrt())
        bn.bias.add_(mean)
    return net


def main(argv=None):
    from training.config import TrainConfig
    from training.crops import load_split
    from training.prepare import cache_path

    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("keras_model", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--cache", default=str(cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)))
    p.add_argument("--calibration-crops", type=int, default=1024)
    args = p.parse_args(argv)
    train = load_split(args.cache, "train")
    rows = np.random.default_rng(cfg.seed).choice(len(train.labels), min(args.calibration_crops, len(train.labels)), replace=False)
    net = port(args.keras_model, train.images[np.sort(rows)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), args.out)
    # training.train --init builds its net from its own recipe: say the size this one works at
    print(f"{args.keras_model} -> {args.out}" + (f" (train on with --inner-size {net.inner_size})" if net.inner_size else ""))


if __name__ == "__main__":
    main()
