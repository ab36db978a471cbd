"""Fold the classifier's zero Pad ops into the convolutions they feed.

training.model copies torchvision's layout: a 1-pixel ZeroPadding2D before
each stride-2 convolution, which pads both sides where TensorFlow's "same"
would pad one. Keras has no explicit-padding convolution, so the converted
graph runs each as a Pad op that copies the whole activation, then a VALID
convolution: 5 Pads, ~1.1 ms of a face's 18.5 ms on wasm (benchmarks/results/
README.md). TF.js and TensorFlow both run convolutions with EXPLICIT padding,
which read the same zeros without the copy. The scores do not change: the
converter's float32 check and the browser parity test hold them to Keras.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

# ops whose "padding" attribute may be EXPLICIT, in TF.js' executor and in TensorFlow
CONVOLUTIONS = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")


def _text(attr: dict) -> str:
    return base64.b64decode(attr.get("s", "")).decode()


def _source(name: str) -> str:
    return name.split(":")[0].lstrip("^")


def foldable_pads(nodes: list[dict], weights: dict) -> list[tuple[dict, dict, list[int]]]:
    """(pad node, convolution node, flat NHWC paddings) for each Pad that can be folded.

    A Pad folds when its paddings are a constant that pads only height and
    width, and its one consumer is a VALID NHWC convolution.
    """
    consumers: dict[str, list[dict]] = {}
    for node in nodes:
        for name in node.get("input", []):
            consumers.setdefault(_source(name), []).append(node)
    folds = []
    for pad in nodes:
        if pad["op"] != "Pad" or len(pad.get("input", [])) != 2:
            continue
        paddings = weights.get(_source(pad["input"][1]))
        users = consumers.get(pad["name"], [])
        if paddings is None or paddings.shape != (4, 2) or paddings[0].any() or paddings[3].any():
            continue
        if len(consumers.get(_source(pad["input"][1]), [])) != 1 or len(users) != 1:
            continue
        conv = users[0]
        attr = conv.get("attr", {})
        if (conv["op"] not in CONVOLUTIONS or _source(conv["input"][0]) != pad["name"]
                or _text(attr.get("padding", {})) != "VALID"
                or _text(attr.get("data_format", {})) not in ("", "NHWC")):
            continue
        folds.append((pad, conv, [int(v) for v in paddings.reshape(-1)]))
    return folds


# bytes per stored value, by the dtype a shard holds (a quantized entry's quantization dtype)
ITEM_BYTES = {"float32": 4, "int32": 4, "float16": 2, "uint16": 2, "uint8": 1, "bool": 1}


def stored_weights(spec: dict, model_dir: Path) -> list[tuple[dict, bytes]]:
    """Every weights-manifest entry with its stored bytes, in manifest order."""
    entries = []
    for group in spec["weightsManifest"]:
        data = b"".join((model_dir / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            stored = entry.get("quantization", {}).get("dtype", entry["dtype"])
            size = int(np.prod(entry["shape"], dtype=np.int64)) * ITEM_BYTES[stored]
            entries.append((entry, data[offset:offset + size]))
            offset += size
    return entries


def fold_zero_pads(model_dir: Path, shard_bytes: int) -> int:
    """Rewrite the graph model in model_dir in place; return how many Pads were folded.

    The shards are rewritten byte for byte without the folded paddings
    constants, so every other weight keeps its stored (quantized) bytes.
    """
    model_json = model_dir / "model.json"
    spec = json.loads(model_json.read_text())
    entries = stored_weights(spec, model_dir)
    int_constants = {e["name"]: np.frombuffer(data, "<i4").reshape(e["shape"])
                     for e, data in entries if e["dtype"] == "int32" and "quantization" not in e}
    nodes = spec["modelTopology"]["node"]
    folds = foldable_pads(nodes, int_constants)
    if not folds:
        return 0
    dropped = set()
    for pad, conv, paddings in folds:
        conv["input"][0] = pad["input"][0]
        conv["attr"]["padding"] = {"s": base64.b64encode(b"EXPLICIT").decode()}
        conv["attr"]["explicit_paddings"] = {"list": {"i": [str(v) for v in paddings]}}
        dropped |= {pad["name"], _source(pad["input"][1])}
    spec["modelTopology"]["node"] = [n for n in nodes if n["name"] not in dropped]
    kept = [(e, data) for e, data in entries if e["name"] not in dropped]
    for group in spec["weightsManifest"]:
        for path in group["paths"]:
            (model_dir / path).unlink()
    data = b"".join(chunk for _, chunk in kept)
    count = max(1, -(-len(data) // shard_bytes))
    paths = [f"group1-shard{i + 1}of{count}.bin" for i in range(count)]
    for i, path in enumerate(paths):
        (model_dir / path).write_bytes(data[i * shard_bytes:(i + 1) * shard_bytes])
    spec["weightsManifest"] = [{"paths": paths, "weights": [e for e, _ in kept]}]
    model_json.write_text(json.dumps(spec))
    return len(folds)
