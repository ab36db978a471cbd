"""Run a TensorFlow.js graph model (model.json + .bin shards) from Python.

The browser and Python must run the very same face detector, so Python reads
the TF.js files the extension ships instead of a second copy in another
format. A TF.js graph model is a GraphDef in JSON plus its constants stored in
weight shards; we put the constants back and import the graph.
"""

import json
from pathlib import Path

import tensorflow as tf
from google.protobuf import json_format
from tensorflowjs.read_weights import read_weights


def load_graph_model(model_json: Path):
    """Return a callable that maps the model's single input to its outputs.

    Outputs come back as a dict keyed by the output names of the model's
    signature.
    """
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    graph_def = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef())
    weights = {
        w["name"]: w["data"]
        for group in read_weights(spec["weightsManifest"], str(model_json.parent))
        for w in group
    }
    for node in graph_def.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
        elif node.op == "_FusedConv2D" and "TArgs" not in node.attr:
            # the TF.js converter drops this attr; TF needs one dtype per extra arg
            num_args = node.attr["num_args"].i
            node.attr["TArgs"].list.type.extend([node.attr["T"].type] * num_args)

    signature = spec["userDefinedMetadata"]["signature"]
    input_name = next(iter(signature["inputs"]))
    output_names = sorted(signature["outputs"])

    def imported():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(imported, [])
    graph = wrapped.graph
    fn = wrapped.prune(
        graph.get_tensor_by_name(input_name),
        [graph.get_tensor_by_name(name) for name in output_names],
    )

    def run(x):
        return dict(zip(output_names, fn(tf.convert_to_tensor(x, tf.float32))))

    return run
