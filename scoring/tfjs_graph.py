"""Run a TensorFlow.js graph model (model.json + .bin shards) from Python.

The browser and Python must run the very same face detector, so Python reads
the TF.js files the extension ships instead of a second copy in another
format. A TF.js graph model is a GraphDef in JSON plus its constants stored in
weight shards; we put the constants back and import the graph.
"""

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format

# Not tensorflowjs.read_weights: importing tensorflowjs pulls in its whole
# converter stack (ydf, tensorflow_hub), which the backend does not need and
# which fails to import under some consoles. Plain float32/int32 shards are
# simple enough to read here.
DTYPES = {"float32": np.float32, "int32": np.int32}


def read_weights(manifest: list, folder: Path) -> dict:
    """{name: ndarray} from a TF.js weights manifest and its shard files."""
    weights = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            if w["dtype"] not in DTYPES or "quantization" in w:
                raise ValueError(f"{w['name']}: only unquantised float32/int32 weights are supported.")
            dtype = np.dtype(DTYPES[w["dtype"]]).newbyteorder("<")
            count = int(np.prod(w["shape"])) if w["shape"] else 1
            arr = np.frombuffer(data, dtype, count, offset).reshape(w["shape"])
            weights[w["name"]] = arr
            offset += count * dtype.itemsize
    return weights


# activations the TF.js converter fuses into FusedDepthwiseConv2dNative
FUSED_ACTIVATIONS = ("Relu", "Relu6", "Elu", "Sigmoid", "Tanh")
# the fused node's attributes each split-out op takes (every op takes T)
SPLIT_ATTRS = {"DepthwiseConv2dNative": ("strides", "padding", "explicit_paddings", "dilations", "data_format"), "BiasAdd": ("data_format",)}


def split_fused_depthwise(graph_def) -> None:
    """Rewrite TF.js' FusedDepthwiseConv2dNative (a TF.js-only op) as the
    DepthwiseConv2dNative, BiasAdd and activation nodes TensorFlow runs; the
    last node keeps the fused node's name, so its consumers are unchanged."""
    nodes = []
    for node in graph_def.node:
        if node.op != "FusedDepthwiseConv2dNative":
            nodes.append(node)
            continue
        fused = [op.decode() for op in node.attr["fused_ops"].list.s]
        steps = [("DepthwiseConv2dNative", list(node.input[:2]))]
        extra = list(node.input[2:])
        for op in fused:
            if op == "BiasAdd":
                steps.append(("BiasAdd", [extra.pop(0)]))
            elif op in FUSED_ACTIVATIONS:
                steps.append((op, []))
            else:
                raise ValueError(f"{node.name}: fused op {op!r} is not supported.")
        previous = None
        for i, (op, inputs) in enumerate(steps):
            name = node.name if i == len(steps) - 1 else f"{node.name}/{op}"
            part = tf.compat.v1.NodeDef(name=name, op=op, input=inputs if previous is None else [previous] + inputs)
            part.attr["T"].CopyFrom(node.attr["T"])
            for key in SPLIT_ATTRS.get(op, ()):
                if key in node.attr:
                    part.attr[key].CopyFrom(node.attr[key])
            nodes.append(part)
            previous = name
    del graph_def.node[:]
    graph_def.node.extend(nodes)


def load_graph_model(model_json: Path):
    """Return a callable that maps the model's single input to its outputs.

    Outputs come back as a dict keyed by the output names of the model's
    signature.
    """
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    graph_def = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef())
    weights = read_weights(spec["weightsManifest"], model_json.parent)
    for node in graph_def.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
        elif node.op == "_FusedConv2D" and "TArgs" not in node.attr:
            # the TF.js converter drops this attr; TF needs one dtype per extra arg
            num_args = node.attr["num_args"].i
            node.attr["TArgs"].list.type.extend([node.attr["T"].type] * num_args)
    split_fused_depthwise(graph_def)

    # tensorflowjs 4.22 writes it at the top; BlazeFace's converter put it in userDefinedMetadata
    signature = spec.get("signature") or spec["userDefinedMetadata"]["signature"]
    # signature keys are names for callers; each entry's "name" is the graph tensor
    input_name = next(iter(signature["inputs"].values()))["name"]
    output_names = sorted(signature["outputs"])
    output_tensors = [signature["outputs"][k]["name"] for k in output_names]

    def imported():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(imported, [])
    graph = wrapped.graph
    fn = wrapped.prune(
        graph.get_tensor_by_name(input_name),
        [graph.get_tensor_by_name(name) for name in output_tensors],
    )

    def run(x):
        return dict(zip(output_names, fn(tf.convert_to_tensor(x, tf.float32))))

    return run
