"""Writes the part of an ONNX graph that computes the wanted outputs as the
source of a TorchScript module.

Every ONNX value becomes a local tensor variable of forward(). A node whose
inputs are all known at conversion time (initializers, Constant nodes and
what follows from them alone) is computed here, once, by running its own
translation in eager mode, so shape-like values (Reshape shapes, Slice
bounds, Resize scales) are written as Python literals and the rest stays
computed at run time: a graph whose shapes follow its input keeps doing so.
"""

import math
import os

import numpy as np
import torch

from . import onnx_helpers
from .onnx_graph import ConversionError, describe

# A node computed at conversion time whose result is this much larger than
# its inputs (ConstantOfShape, Expand, Tile) is computed at run time instead,
# so the module file does not store it.
FOLD_LIMIT = 1 << 20
# No constant of a model may have more elements than this (1 GiB of float32):
# a graph that asks for one is refused, its size computed before anything is
# allocated.
CONSTANT_CAP = 1 << 28
HELPERS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_helpers.py")


def as_tensor(array):
    """A numpy constant as a torch tensor (unsigned wide types as int64)."""
    if array.dtype.kind == "U" or array.dtype.kind == "O" or array.dtype.kind == "S":
        raise ConversionError(f"constant of type {array.dtype}: string tensors are not supported")
    if array.dtype in (np.uint16, np.uint32, np.uint64):
        array = array.astype(np.int64)
    return torch.from_numpy(np.array(array, copy=True))


def float_literal(value):
    if math.isnan(value):
        return "float('nan')"
    if math.isinf(value):
        return "float('inf')" if value > 0 else "-float('inf')"
    return repr(float(value))


def literal_list(values, kind):
    return "[" + ", ".join(float_literal(v) if kind is float else str(int(v)) for v in values) + "]"


class Emitter:
    """Collects forward()'s lines and the module's buffers.

    translations: op_type -> function(emitter, node) that emits the node's
    code through x(), ints(), set() and friends. dependencies: op_type ->
    function(emitter, node) giving the values a node needs computed first
    when that is not simply its inputs.
    """

    def __init__(self, graph, translations, dependencies=None):
        self.graph = graph
        self.translations = translations
        self.dependencies = dependencies or {}
        self.static = {name: as_tensor(value) for name, value in graph.constants.items()}
        self.var_of = {}
        self.lines = []
        self.buffers = {}
        self.buffer_of = {}
        self.plans = {}  # per-node decisions an op translation records while ordering
        self.count = 0
        self.fold_env = None

    # ---- names and values ------------------------------------------------
    def name(self, prefix="t"):
        self.count += 1
        return f"{prefix}{self.count}"

    def bind_input(self, onnx_name, var):
        self.var_of[onnx_name] = var

    def is_static(self, name):
        return self.graph.source(name) in self.static

    def const(self, name):
        """The conversion-time value of `name` (a tensor), or None."""
        return self.static.get(self.graph.source(name))

    def x(self, name):
        """An expression for value `name` as a tensor."""
        name = self.graph.source(name)
        if self.fold_env is not None:
            var = self.name("c")
            self.fold_env[var] = self.static[name]
            return var
        if name in self.var_of:
            return self.var_of[name]
        if name in self.static:
            return self.buffer(name)
        raise ConversionError(f"value '{name}' is used before it is computed")

    def buffer(self, name):
        if name not in self.buffer_of:
            safe = "w_" + "".join(c if c.isalnum() else "_" for c in name)
            while safe in self.buffers:
                safe += "_"
            self.buffers[safe] = self.static[name].contiguous()
            self.buffer_of[name] = safe
        return "self." + self.buffer_of[name]

    def ints(self, name):
        """A List[int] expression for a shape-like value: a literal when known."""
        value = self.const(name)
        if value is not None:
            return literal_list(value.reshape(-1).tolist(), int)
        return f"ints({self.x(name)})"

    def floats(self, name):
        value = self.const(name)
        if value is not None:
            return literal_list(value.reshape(-1).tolist(), float)
        return f"floats({self.x(name)})"

    def scalar(self, name):
        """A Python literal for a known one-element value, else None."""
        value = self.const(name)
        if value is None or value.numel() != 1:
            return None
        item = value.reshape(-1)[0].item()
        if isinstance(item, bool):
            return repr(item)
        if isinstance(item, int):
            return str(item)
        return float_literal(item)

    def operand(self, name, other):
        """`name` as a Python number when it is a known single value that
        broadcasting against `other` would not add dims to, else x(name).
        A number keeps the other operand's dtype in any precision."""
        value = self.const(name)
        literal = self.scalar(name)
        if literal is not None and self.graph.source(other) not in self.static:
            rank = self.graph.rank(other)
            same_kind = value.is_floating_point() == (self.graph.is_float(other) is not False)
            if same_kind and (value.dim() == 0 or (rank is not None and rank >= value.dim())):
                return literal
        return self.x(name)

    def has(self, node, index):
        return len(node.input) > index and node.input[index] != ""

    # ---- emitting ----------------------------------------------------------
    def emit(self, line):
        self.lines.append(line)

    def set(self, node, expr, index=0):
        """Assigns expr to a new variable standing for node.output[index]."""
        var = self.name()
        self.var_of[node.output[index]] = var
        self.emit(f"{var} = {expr}")
        return var

    def temp(self, expr):
        """Assigns expr to a new variable and returns its name."""
        var = self.name("v")
        self.emit(f"{var} = {expr}")
        return var

    # ---- ordering ----------------------------------------------------------
    def needs(self, node):
        extra = self.dependencies.get(node.op_type)
        return extra(self, node) if extra else [i for i in node.input if i]

    def order(self, outputs):
        """Nodes needed for `outputs`, producers before users (iterative DFS)."""
        ordered, state = [], {}
        stack = [(self.graph.source(o), False) for o in reversed(outputs)]
        while stack:
            name, expanded = stack.pop()
            node = self.graph.producer.get(name)
            if node is None or name in self.static or name in self.var_of:
                continue
            key = id(node)
            if expanded:
                if state.get(key) != "done":
                    state[key] = "done"
                    ordered.append(node)
                continue
            if state.get(key) == "done":
                continue
            if state.get(key) == "open":
                raise ConversionError(f"{describe(node)}: the graph has a cycle")
            state[key] = "open"
            stack.append((name, True))
            for dep in reversed(self.needs(node)):
                dep = self.graph.source(dep)
                dep_node = self.graph.producer.get(dep)
                if dep_node is not None and state.get(id(dep_node)) != "done" and dep not in self.static:
                    stack.append((dep, False))
        return ordered

    def check_supported(self, nodes):
        """Raises one error naming every unsupported op and its nodes."""
        missing = {}
        for node in nodes:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            if key not in self.translations:
                missing.setdefault(key, []).append(node.name or node.output[0])
        if missing:
            parts = []
            for op, names in sorted(missing.items()):
                shown = ", ".join(f"'{n}'" for n in names[:3])
                more = f" and {len(names) - 3} more" if len(names) > 3 else ""
                parts.append(f"{op} (node{'s' if len(names) > 1 else ''} {shown}{more})")
            raise ConversionError(f"unsupported ONNX ops (opset {self.graph.opset}): " + "; ".join(parts))

    # ---- folding -----------------------------------------------------------
    def sized_result(self, node):
        """The element count of a ConstantOfShape, Expand or Tile whose inputs
        are all known, from their values alone (Python integers: nothing is
        materialised); None for other ops or shapes it cannot read."""
        try:
            values = [[int(v) for v in self.static[i].reshape(-1).tolist()] for i in node.input if i]
            if node.op_type == "ConstantOfShape":
                dims = values[0]
            elif node.op_type == "Expand":
                given, asked = list(self.static[node.input[0]].shape), values[1]
                width = max(len(given), len(asked))
                given = [1] * (width - len(given)) + given
                asked = [1] * (width - len(asked)) + asked
                dims = [max(a, b) for a, b in zip(given, asked)]
            elif node.op_type == "Tile":
                dims = [a * b for a, b in zip(self.static[node.input[0]].shape, values[1])]
            else:
                return None
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError):
            return None
        count = 1
        for d in dims:
            count *= max(int(d), 0)
        return count

    def fold(self, node, translate):
        """Computes `node` now when its inputs are all known; False when its
        result is too large to store (it is then computed at run time).
        Raises ConversionError for a constant of more than CONSTANT_CAP
        elements, counted before it is made."""
        count = self.sized_result(node)
        if count is not None and count > CONSTANT_CAP:
            raise ConversionError(f"{describe(node)}: makes a constant of {count} elements, over the cap of "
                                  f"{CONSTANT_CAP} (refused before it was made)")
        if count is not None and count > max([self.static[i].numel() for i in node.input if i] + [FOLD_LIMIT]):
            return False
        saved = (self.lines, self.var_of)
        self.lines, self.var_of, self.fold_env = [], {}, {}
        try:
            translate(self, node)
            namespace = dict(vars(onnx_helpers))
            namespace.update(self.fold_env)
            exec("\n".join(self.lines), namespace)  # our own generated code, on our constants
            results = {name: namespace[var] for name, var in self.var_of.items()}
        except ConversionError:
            raise
        except Exception as e:  # torch raises several types for inputs an op rejects
            raise ConversionError(f"{describe(node)}: cannot be computed from its constant inputs ({e})")
        finally:
            inputs = self.fold_env
            self.lines, self.var_of = saved
            self.fold_env = None
        largest = max([t.numel() for t in inputs.values()] + [FOLD_LIMIT])
        for name, value in results.items():
            if not isinstance(value, torch.Tensor):
                raise ConversionError(f"{describe(node)}: computed a {type(value).__name__}, expected a tensor")
            if value.numel() > largest:
                return False
        for name, value in results.items():
            self.static[name] = value.detach().contiguous()
        return True

    def convert(self, outputs):
        """Emits every node `outputs` need; returns their expressions.
        Raises ConversionError naming every unsupported op, or the first
        node whose attributes or constant inputs cannot be translated."""
        nodes = self.order(outputs)
        self.check_supported(nodes)
        for node in nodes:
            translate = self.translations[node.op_type]
            inputs = [i for i in node.input if i]
            if inputs and all(self.is_static(i) for i in inputs) and self.fold(node, translate):
                continue
            translate(self, node)
        return [self.x(o) for o in outputs]


def module_source(emitter, arguments, prologue, results, epilogue, returns_tuple):
    """The Python source of a module ConvertedModel whose forward takes
    `arguments` (names), runs prologue, the emitted lines and epilogue, and
    returns `results` (expressions): one tensor, or a tuple when
    returns_tuple."""
    with open(HELPERS_FILE) as f:
        helpers = f.read()
    result_type = (f"Tuple[{', '.join(['Tensor'] * len(results))}]" if returns_tuple else "Tensor")
    signature = ", ".join(f"{a}: Tensor" for a in arguments)
    returned = f"({', '.join(results)},)" if returns_tuple else results[0]
    body = [
        "",
        "",
        "class ConvertedModel(torch.nn.Module):",
        "    def __init__(self, weights: Dict[str, Tensor]):",
        "        super().__init__()",
        "        for name, tensor in weights.items():",
        "            self.register_buffer(name, tensor)",
        "",
        f"    def forward(self, {signature}) -> {result_type}:",
    ]
    body += ["        " + line for line in prologue + emitter.lines + epilogue]
    body.append(f"        return {returned}")
    return helpers + "\nfrom typing import Dict\n" + "\n".join(body) + "\n"
