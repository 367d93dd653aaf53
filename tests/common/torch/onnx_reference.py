#!/usr/bin/env python3
"""Checks and runs an ONNX model netadapt exported, with NumPy only.

    onnx_reference.py MODEL.onnx INPUT.bin N,C,H,W OUTPUT.bin

Runs the ONNX checker (full_check: also strict shape inference), then evaluates the graph on
the float32 input (raw little-endian, shape N,C,H,W) in float64, following the ONNX operator
specifications (opset 13), not PyTorch's code, and writes the output as raw float32.

Debian bookworm has no ONNX runtime (no onnxruntime package) and its python3-onnx (1.12)
predates onnx.reference (1.13), hence this evaluator of the operators netadapt emits. Any other
operator, attribute or opset is an error: the evaluator must not silently guess.
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from numpy.lib.stride_tricks import sliding_window_view


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def expect_attrs(node, allowed):
    unknown = set(attrs(node)) - set(allowed)
    if unknown:
        raise ValueError(f"{node.name} ({node.op_type}): unsupported attributes {unknown}")


def windows(x, kernel, strides, pads, pad_value, ceil_mode=0):
    """[N, C, OH, OW, kh, kw] windows of x padded as ONNX pools and convs pad."""
    (kh, kw), (sh, sw) = kernel, strides
    ph0, pw0, ph1, pw1 = pads
    h, w = x.shape[2], x.shape[3]
    round_ = np.ceil if ceil_mode else np.floor
    oh = int(round_((h + ph0 + ph1 - kh) / sh)) + 1
    ow = int(round_((w + pw0 + pw1 - kw) / sw)) + 1
    # Extra right padding for ceil_mode's last window; pools ignore it (max with -inf).
    eh = max(0, (oh - 1) * sh + kh - (h + ph0 + ph1))
    ew = max(0, (ow - 1) * sw + kw - (w + pw0 + pw1))
    padded = np.pad(x, ((0, 0), (0, 0), (ph0, ph1 + eh), (pw0, pw1 + ew)),
                    constant_values=pad_value)
    win = sliding_window_view(padded, (kh, kw), axis=(2, 3))
    return win[:, :, ::sh, ::sw][:, :, :oh, :ow]


def conv(node, x, w, b=None):
    a = attrs(node)
    expect_attrs(node, {"kernel_shape", "strides", "pads", "group", "dilations"})
    if list(a.get("dilations", [1, 1])) != [1, 1]:
        raise ValueError(f"{node.name}: dilations")
    kernel = tuple(a.get("kernel_shape", w.shape[2:]))
    assert kernel == tuple(w.shape[2:]), node.name
    group = a.get("group", 1)
    win = windows(x, kernel, a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]), 0.0)
    cin = x.shape[1] // group
    cout = w.shape[0] // group
    outs = []
    for g in range(group):
        outs.append(np.einsum("nchwij,ocij->nohw", win[:, g * cin:(g + 1) * cin],
                              w[g * cout:(g + 1) * cout]))
    y = np.concatenate(outs, axis=1)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def gemm(node, a_, b_, c=None):
    a = attrs(node)
    expect_attrs(node, {"transA", "transB", "alpha", "beta"})
    if a.get("transA", 0):
        a_ = a_.T
    if a.get("transB", 0):
        b_ = b_.T
    y = a.get("alpha", 1.0) * (a_ @ b_)
    if c is not None:
        y = y + a.get("beta", 1.0) * c
    return y


def batchnorm(node, x, scale, bias, mean, var):
    expect_attrs(node, {"epsilon", "momentum"})
    eps = attrs(node).get("epsilon", 1e-5)
    shape = (1, -1, 1, 1)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * scale.reshape(
        shape) + bias.reshape(shape)


def maxpool(node, x):
    a = attrs(node)
    expect_attrs(node, {"kernel_shape", "strides", "pads", "ceil_mode", "dilations",
                        "storage_order"})
    win = windows(x, a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                  -np.inf, a.get("ceil_mode", 0))
    return win.max(axis=(4, 5))


def avgpool(node, x):
    a = attrs(node)
    expect_attrs(node, {"kernel_shape", "strides", "pads", "ceil_mode", "count_include_pad"})
    if a.get("ceil_mode", 0) or not a.get("count_include_pad", 0) and any(a.get("pads", [])):
        raise ValueError(f"{node.name}: only count_include_pad pools without ceil_mode")
    win = windows(x, a["kernel_shape"], a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                  0.0)
    return win.mean(axis=(4, 5))


def resize(node, x, roi, scales, sizes=None):
    a = attrs(node)
    if (a.get("mode") != b"nearest" or a.get("coordinate_transformation_mode") != b"asymmetric"
            or a.get("nearest_mode") != b"floor" or sizes is not None):
        raise ValueError(f"{node.name}: only nearest/asymmetric/floor resizing by scales")
    y = x
    for axis, scale in enumerate(scales):
        n = x.shape[axis]
        out = int(np.floor(n * scale))
        index = np.minimum(np.floor(np.arange(out) / scale).astype(int), n - 1)
        y = np.take(y, index, axis=axis)
    return y


def flatten(node, x):
    axis = attrs(node).get("axis", 1)
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def clip(node, x, lo=None, hi=None):
    return np.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)


def broadcast_shape(node, *shapes):
    """The shape of ONNX's multidirectional (NumPy) broadcasting, checked explicitly so that a
    wrongly shaped operand is an error rather than whatever NumPy makes of it."""
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ValueError(f"{node.name} ({node.op_type}): shapes {shapes} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def elementwise(fn):
    def op(node, a, b):
        expect_attrs(node, set())
        shape = broadcast_shape(node, a.shape, b.shape)
        y = fn(a, b)
        assert y.shape == shape, node.name
        return y
    return op


def concat(node, *xs):
    expect_attrs(node, {"axis"})
    axis = attrs(node)["axis"]  # required
    rank = xs[0].ndim
    if not -rank <= axis < rank or any(x.ndim != rank for x in xs):
        raise ValueError(f"{node.name}: axis {axis} of inputs of ranks {[x.ndim for x in xs]}")
    axis %= rank
    for x in xs:
        if x.shape[:axis] + x.shape[axis + 1:] != xs[0].shape[:axis] + xs[0].shape[axis + 1:]:
            raise ValueError(f"{node.name}: shapes {[x.shape for x in xs]} differ off axis")
    return np.concatenate(xs, axis=axis)


def sigmoid(node, x):
    expect_attrs(node, set())
    # 1 / (1 + exp(-x)), written so that it cannot overflow.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def hardsigmoid(node, x):
    expect_attrs(node, {"alpha", "beta"})
    a = attrs(node)
    return np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0.0, 1.0)


OPS = {
    "Conv": conv,
    "Gemm": gemm,
    "BatchNormalization": batchnorm,
    "Relu": lambda node, x: np.maximum(x, 0.0),
    "Clip": clip,
    "MaxPool": maxpool,
    "AveragePool": avgpool,
    "GlobalAveragePool": lambda node, x: x.mean(axis=(2, 3), keepdims=True),
    "Resize": resize,
    "Flatten": flatten,
    "Identity": lambda node, x: x,
    "Add": elementwise(np.add),
    "Mul": elementwise(np.multiply),
    "Concat": concat,
    "Sigmoid": sigmoid,
    "HardSigmoid": hardsigmoid,
}


def run(model, x):
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets != {"": 13}:
        raise ValueError(f"expected opset 13 only, got {opsets}")
    values = {init.name: numpy_helper.to_array(init).astype(np.float64)
              for init in model.graph.initializer}
    values[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        if node.op_type not in OPS:
            raise ValueError(f"{node.name}: operator {node.op_type} has no reference here")
        # Nodes run in graph order, which the checker requires to be topological: a value read
        # before any node wrote it is an error. Values stay in the map once written, so a value
        # read by several nodes (a residual, a squeeze-excite input) is there for each.
        missing = [name for name in node.input if name and name not in values]
        if missing:
            raise ValueError(f"{node.name}: reads {missing} before any node writes them")
        inputs = [values[name] if name else None for name in node.input]
        while inputs and inputs[-1] is None:
            inputs.pop()
        assert len(node.output) == 1, node.name
        if node.output[0] in values:
            raise ValueError(f"{node.name}: {node.output[0]} is written twice")
        values[node.output[0]] = OPS[node.op_type](node, *inputs)
    return values[model.graph.output[0].name]


def main():
    model_path, input_path, shape, output_path = sys.argv[1:]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    shape = [int(d) for d in shape.split(",")]
    x = np.fromfile(input_path, dtype="<f4").reshape(shape)
    y = run(model, x)
    y.astype("<f4").tofile(output_path)


if __name__ == "__main__":
    main()
