"""Writes internal/onnx/testdata/higgs-opset18.onnx: a small graph at ONNX
opset 18, built with ONNX's own helper (Debian's python3-onnx 1.12 has no
exporter that writes opset 18, and PyTorch 1.13 stops at 17), made of the
operators whose meaning changed at 18: ReduceMean, ReduceSumSquare,
ReduceMax and ReduceMin take their axes as an input, and Split takes
num_outputs (here uneven: 28 columns into 10, 10 and 8). It has no weights
to train; ONNX Runtime is its reference in ferry's tests.

Run through `make testdata` (from the repository root).
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

OUT = "internal/onnx/testdata"


def main():
    const = lambda name, value: numpy_helper.from_array(np.array(value), name)
    nodes = [
        helper.make_node("ReduceMean", ["features", "axis1"], ["mean"], keepdims=1),
        helper.make_node("Sub", ["features", "mean"], ["centered"]),
        helper.make_node("Split", ["centered"], ["p0", "p1", "p2"], axis=1, num_outputs=3),
        helper.make_node("ReduceSumSquare", ["p0", "axis1"], ["energy"], keepdims=0),
        helper.make_node("ReduceMax", ["p1", "axis1"], ["high"], keepdims=0),
        helper.make_node("ReduceMin", ["p2", "axis1"], ["low"], keepdims=0),
        helper.make_node("Mul", ["energy", "w_energy"], ["e"]),
        helper.make_node("Mul", ["low", "w_low"], ["l"]),
        helper.make_node("Add", ["e", "high"], ["eh"]),
        helper.make_node("Add", ["eh", "l"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["score"]),
    ]
    graph = helper.make_graph(
        nodes, "higgs_opset18",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["rows", 28])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["rows"])],
        initializer=[const("axis1", np.array([1], dtype=np.int64)),
                     const("w_energy", np.array(0.05, dtype=np.float32)),
                     const("w_low", np.array(-0.5, dtype=np.float32))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="onnx.helper")
    model.ir_version = 8
    save(model, os.path.join(OUT, "higgs-opset18.onnx"))


if __name__ == "__main__":
    main()
