"""The ONNX converter (python_wrapper/model_import) against onnxruntime, op by op.

Usage (ctest runs it, label "onnx"):
    python3 tests/onnx/test_onnx_ops.py --root REPO [--only TEXT]

Every case of onnx_op_cases.py (one op with its attributes and opset
variants, or an exporter's pattern) is converted to TorchScript and run on
the same inputs as onnxruntime-node (python_wrapper/model_import/ort_graphs.mjs, one process for
all): float outputs must agree within the case's tolerance (1e-5 absolute
plus 1e-5 relative unless it says otherwise), other outputs exactly, and
shapes exactly. Cases with several runs declare symbolic input dims and run
at each input size. Also checks that unsupported ops are all named in one
error, and that an attribute of the wrong type is refused.
Fails (never skips) when onnxruntime-node is missing.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import helper

from tests.onnx import onnx_op_cases

ORT_TYPES = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64", np.dtype(np.bool_): "bool",
             np.dtype(np.int32): "int32"}
NUMPY_OF_ORT = {"float32": np.float32, "int64": np.int64, "bool": np.bool_, "int32": np.int32,
                "uint8": np.uint8, "int8": np.int8}


def write_runs(cases, tmp):
    """Saves every case's graph and inputs; returns the ort_graphs run list."""
    runs = []
    for index, case in enumerate(cases):
        case.id = f"{index:03d}_{case.name}"
        model_path = os.path.join(tmp, case.id + ".onnx")
        onnx.save(case.model, model_path)
        for r, inputs in enumerate(case.runs):
            stem = os.path.join(tmp, f"{case.id}_run{r}")
            specs = []
            for name, value in inputs.items():
                path = f"{stem}_in_{name}.bin"
                np.ascontiguousarray(value).tofile(path)
                specs.append({"name": name, "type": ORT_TYPES[value.dtype], "dims": list(value.shape),
                              "file": path})
            outputs = [{"name": name, "file": f"{stem}_out_{name}.bin"} for name, _ in case.outputs]
            runs.append({"model": model_path, "inputs": specs, "outputs": outputs, "result": f"{stem}.json"})
    return runs


def reference(run):
    """onnxruntime's outputs of one run, or raises with its error."""
    with open(run["result"]) as f:
        report = json.load(f)
    if "error" in report:
        raise AssertionError(f"onnxruntime rejected the graph: {report['error']}")
    values = []
    for spec, described in zip(run["outputs"], report["outputs"]):
        data = np.fromfile(spec["file"], dtype=NUMPY_OF_ORT[described["type"]])
        values.append(data.reshape(described["dims"]))
    return values


def compare(case, got, expected):
    """Max abs difference of float outputs; raises on any mismatch."""
    worst = 0.0
    for (name, _), g, e in zip(case.outputs, got, expected):
        g = g.detach().numpy()
        if tuple(g.shape) != tuple(e.shape):
            raise AssertionError(f"output {name}: shape {tuple(g.shape)}, onnxruntime {tuple(e.shape)}")
        if e.dtype == np.float32:
            if g.dtype != np.float32:
                raise AssertionError(f"output {name}: dtype {g.dtype}, onnxruntime float32")
            finite = np.isfinite(e)
            if not np.array_equal(finite, np.isfinite(g)):
                raise AssertionError(f"output {name}: NaN/Inf at other places than onnxruntime's")
            diff = np.abs(g[finite].astype(np.float64) - e[finite])
            bound = case.tolerance * (1.0 + np.abs(e[finite]))
            if diff.size and np.any(diff > bound):
                raise AssertionError(f"output {name}: max abs difference {diff.max():.3g} "
                                     f"(tolerance {case.tolerance:g} + relative)")
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
        elif not np.array_equal(g.astype(e.dtype), e):
            raise AssertionError(f"output {name}: values differ from onnxruntime's\n  got {g.ravel()[:12]}\n"
                                 f"  onnxruntime {e.ravel()[:12]}")
    return worst


def check_case(case, runs, convert_graph):
    module = convert_graph(case.model)
    worst = 0.0
    for inputs, run in zip(case.runs, runs):
        with torch.no_grad():
            got = module(*[torch.from_numpy(np.ascontiguousarray(v)) for v in inputs.values()])
        worst = max(worst, compare(case, got, reference(run)))
    return worst


def check_errors(convert_graph, ConversionError):
    """Unsupported ops are all named with their nodes; a mistyped attribute is refused."""
    failures = []
    x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("Frobnicate", ["a"], ["b"], name="f1", domain="com.example"),
             helper.make_node("Frobnicate", ["b"], ["c"], name="f2", domain="com.example"),
             helper.make_node("Hardmax", ["c"], ["y"], name="hm")]
    model = helper.make_model(helper.make_graph(nodes, "unsupported", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    try:
        convert_graph(model)
        failures.append("unsupported ops: no error")
    except ConversionError as e:
        for part in ("com.example.Frobnicate (nodes 'f1', 'f2')", "Hardmax (node 'hm')"):
            if part not in str(e):
                failures.append(f"unsupported ops: {part!r} not in the message: {e}")
    bad = helper.make_node("Concat", ["x", "x"], ["y"], name="cat")
    bad.attribute.append(helper.make_attribute("axis", "0); import os; os.system('false'"))
    model = helper.make_model(helper.make_graph([bad], "mistyped", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
    try:
        convert_graph(model)
        failures.append("mistyped attribute: no error")
    except ConversionError as e:
        if "attribute 'axis' has type STRING, expected INT" not in str(e):
            failures.append(f"mistyped attribute: unexpected message: {e}")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="repository root")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    from python_wrapper.model_import.onnx_convert import convert_graph
    from python_wrapper.model_import.onnx_graph import ConversionError

    torch.set_num_threads(1)
    if not os.path.isdir(os.path.join(root, "python_wrapper", "model_import", "node_modules", "onnxruntime-node")) or not shutil.which("node"):
        print("FAIL: onnxruntime-node is missing: run tools/fetch-model --with-reference", file=sys.stderr)
        return 1
    cases = [c for c in onnx_op_cases.all_cases() if not args.only or args.only in c.name]
    failures = check_errors(convert_graph, ConversionError)
    with tempfile.TemporaryDirectory(prefix="cutout_onnx_ops_") as tmp:
        runs = write_runs(cases, tmp)
        listing = os.path.join(tmp, "runs.json")
        with open(listing, "w") as f:
            json.dump(runs, f)
        proc = subprocess.run(["node", os.path.join(root, "python_wrapper", "model_import", "ort_graphs.mjs"), listing],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"FAIL: onnxruntime reference failed:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
            return 1
        worst, position = 0.0, 0
        for case in cases:
            case_runs = runs[position:position + len(case.runs)]
            position += len(case.runs)
            try:
                worst = max(worst, check_case(case, case_runs, convert_graph))
            except (AssertionError, ConversionError, RuntimeError) as e:
                failures.append(f"{case.id}: {e}")
    print(f"{len(cases)} cases, {len(runs)} runs against onnxruntime; "
          f"largest float difference {worst:.2g}")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
