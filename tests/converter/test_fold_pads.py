"""The converter folds the classifier's zero Pads into its convolutions, and only where the scores cannot change."""

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from converter.fold_pads import fold_zero_pads, foldable_pads, stored_weights  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CLASSIFIER = REPO / "extension" / "model" / "classifier" / "model.json"
SPATIAL = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
CHANNELS = np.array([[0, 0], [0, 0], [0, 0], [0, 4]], np.int32)  # BlazeFace pads channels for its residuals


def text(value: str) -> dict:
    return {"s": base64.b64encode(value.encode()).decode()}


def graph(conv_op="_FusedConv2D", padding="VALID", paddings="p", extra_consumer=False, data_format=None):
    conv_attr = {"padding": text(padding)}
    if data_format:
        conv_attr["data_format"] = text(data_format)
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "p", "op": "Const"},
        {"name": "pad", "op": "Pad", "input": ["x", paddings]},
        {"name": "conv", "op": conv_op, "input": ["pad", "w"], "attr": conv_attr},
    ]
    if extra_consumer:
        nodes.append({"name": "relu", "op": "Relu", "input": ["pad"]})
    return nodes


CASES = [
    # (graph, paddings constant, folds?)
    ("zero pad of height and width into a VALID fused conv", graph(), SPATIAL, True),
    ("into a VALID fused depthwise conv", graph("FusedDepthwiseConv2dNative"), SPATIAL, True),
    ("NHWC named explicitly", graph(data_format="NHWC"), SPATIAL, True),
    ("the channel pad of a residual", graph(), CHANNELS, False),
    ("a conv that already pads (SAME)", graph(padding="SAME"), SPATIAL, False),
    ("a Pad read by a second op too", graph(extra_consumer=True), SPATIAL, False),
    ("a Pad feeding something not a conv", graph("MaxPool"), SPATIAL, False),
    ("NCHW convolution", graph(data_format="NCHW"), SPATIAL, False),
    ("paddings not a constant", graph(paddings="x"), SPATIAL, False),
]


@pytest.mark.parametrize("nodes, paddings, folds", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_which_pads_fold(nodes, paddings, folds):
    found = foldable_pads(nodes, {"p": paddings})
    assert bool(found) == folds
    if folds:
        assert found[0][2] == [0, 0, 1, 1, 1, 1, 0, 0]


def test_the_shipped_classifier_has_no_pad_left_and_folding_changes_no_score(tmp_path):
    """The committed export: no Pad op, five convolutions with explicit padding, and
    a fold of the unfolded graph changes nothing it computes."""
    from scoring.tfjs_graph import load_graph_model

    spec = json.loads(CLASSIFIER.read_text())
    nodes = spec["modelTopology"]["node"]
    assert not [n for n in nodes if n["op"] == "Pad"]
    explicit = [n for n in nodes if text("EXPLICIT") == n.get("attr", {}).get("padding")]
    assert len(explicit) == 5

    # undo the fold on a float32 copy (Pad nodes back in front of those convolutions), then fold again
    data = b""
    for entry, chunk in stored_weights(spec, CLASSIFIER.parent):
        if entry.pop("quantization", {}).get("dtype") == "float16":
            chunk = np.frombuffer(chunk, "<f2").astype("<f4").tobytes()
        data += chunk
    entries = spec["weightsManifest"][0]
    for i, conv in enumerate(n for n in spec["modelTopology"]["node"] if n.get("attr", {}).get("padding") == text("EXPLICIT")):
        pads = [int(v) for v in conv["attr"].pop("explicit_paddings")["list"]["i"]]
        conv["attr"]["padding"] = text("VALID")
        spec["modelTopology"]["node"] += [
            {"name": f"undo{i}/paddings", "op": "Const", "attr": {"dtype": {"type": "DT_INT32"}}},
            {"name": f"undo{i}", "op": "Pad", "input": [conv["input"][0], f"undo{i}/paddings"],
             "attr": {"T": {"type": "DT_FLOAT"}, "Tpaddings": {"type": "DT_INT32"}}},
        ]
        conv["input"][0] = f"undo{i}"
        entries["weights"].append({"name": f"undo{i}/paddings", "shape": [4, 2], "dtype": "int32"})
        data += np.array(pads, "<i4").tobytes()
    unfolded = tmp_path / "model.json"
    entries["paths"] = ["group1-shard1of1.bin"]
    (tmp_path / "group1-shard1of1.bin").write_bytes(data)
    unfolded.write_text(json.dumps(spec))

    x = np.random.default_rng(0).uniform(0, 255, (3, 160, 160, 3)).astype(np.float32)
    before = next(iter(load_graph_model(unfolded)(x).values())).numpy()
    assert fold_zero_pads(unfolded.parent, 4 * 1024 * 1024) == 5
    after = next(iter(load_graph_model(unfolded)(x).values())).numpy()
    np.testing.assert_allclose(after, before, atol=1e-6)
    assert fold_zero_pads(unfolded.parent, 4 * 1024 * 1024) == 0  # nothing left to fold
