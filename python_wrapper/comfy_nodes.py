"""ComfyUI node classes generated from the library's embedded nodes.json.

Everything ComfyUI shows about a node (inputs, types, defaults, ranges,
options, tooltips, outputs, category, description, display name) is read from
the same nodes.json bytes the library validates every call with, so nothing
is written twice. Each class's FUNCTION runs the node through the library:

- IMAGE and MASK tensors go in without a copy (any strides, float32,
  float16 or bfloat16, CPU or CUDA; other float dtypes are converted to
  float32 first); inputs are never written to.
- Outputs come back as float32 on the input's device and are cast to the
  first IMAGE input's dtype.
- comfy.utils.ProgressBar advances once per batch item; the abort callback
  returns comfy.model_management.processing_interrupted(); a cancelled call
  raises comfy.model_management.InterruptProcessingException.
- Library errors become ValueError (bad input) or RuntimeError (the rest)
  carrying the library's message.
- A model chosen from another pack's folder (foreign_models) is imported
  into the cache first when needed (import_cache), with its own progress
  bar; a refused file raises import_cache.ImportRefused (a RuntimeError)
  naming the file and why.

Threading: node functions may run on any thread; the context cache is locked.
"""

import json
import os
import threading

import torch

from . import comfy_memory, cutout_library, foreign_models, import_cache, model_folders, model_info
from .cutout_library import (
    VALUE_BOOL,
    VALUE_FLOAT,
    VALUE_INT,
    VALUE_STRING,
    VALUE_TENSOR,
    CutoutCancelled,
    CutoutModelNotFound,
)
from .dlpack_bridge import SUPPORTED_DTYPES

# Core ComfyUI owns unprefixed names such as RemoveBackground and silently
# drops a custom node that reuses one: every id we register starts with this.
NODE_ID_PREFIX = "Cutout"

_VALUE_KINDS = {
    "IMAGE": VALUE_TENSOR,
    "MASK": VALUE_TENSOR,
    "INT": VALUE_INT,
    "FLOAT": VALUE_FLOAT,
    "BOOLEAN": VALUE_BOOL,
    "COMBO": VALUE_STRING,
    "STRING": VALUE_STRING,
}

# nodes.json keys passed through to a widget's options when present.
_WIDGET_KEYS = {
    "INT": ("default", "min", "max", "step"),
    "FLOAT": ("default", "min", "max", "step", "round"),
    "BOOLEAN": ("default", "label_on", "label_off"),
    "STRING": ("default", "multiline"),
    "COMBO": ("default",),
    "IMAGE": (),
    "MASK": (),
}


def comfy_node_id(spec_id):
    """The id a node is registered under in ComfyUI."""
    return spec_id if spec_id.startswith(NODE_ID_PREFIX) else NODE_ID_PREFIX + spec_id


# --------------------------------------------------------------------------
# Contexts, one per device, rebuilt when the model folders change


def _directory_stamp(dirs):
    stamp = []
    for d in dirs:
        try:
            stamp.append((d, os.stat(d).st_mtime_ns))
        except OSError:
            stamp.append((d, None))
    return tuple(stamp)


class ContextCache:
    """Hands out a cutout Context per device for the current model folders.

    A Context scans its folders once, when created; when a folder appears,
    disappears or gains or loses a file (its mtime changes), the next get()
    makes a new Context. The old one is freed when the last call using it
    returns (it is garbage-collected, never closed under a running call).
    """

    def __init__(self, library):
        self.library = library
        self._lock = threading.Lock()
        self._entries = {}

    def clear(self):
        """Drops every context (and its loaded models); the next get() makes
        new ones. Calls still running keep theirs until they return."""
        with self._lock:
            self._entries = {}

    def get(self, device="cpu"):
        host_dirs = model_folders.host_dirs()
        with self._lock:
            entry = self._entries.get(device)
            # The folders to watch are the library's whole search list, as the
            # context reports it.
            if (entry is None or entry[0] != host_dirs
                    or entry[1] != _directory_stamp(entry[2].search_dirs())):
                context = cutout_library.Context(self.library, model_dirs=host_dirs, device=device)
                entry = (host_dirs, _directory_stamp(context.search_dirs()), context)
                self._entries[device] = entry
            return entry[2]


# --------------------------------------------------------------------------
# INPUT_TYPES from a node spec


def _input_options(spec_input):
    kind = spec_input["type"]
    options = {key: spec_input[key] for key in _WIDGET_KEYS.get(kind, ()) if key in spec_input}
    if kind == "FLOAT" and "step" not in options:
        options["step"] = 0.01
    if "tooltip" in spec_input:
        options["tooltip"] = spec_input["tooltip"]
    return options


def _library_models(context):
    """(name, path) of the models the library finds, in its order, without
    the entries of the import cache (they are listed by their source's label)."""
    cache = import_cache.cache_dir()
    cache = os.path.normcase(os.path.abspath(cache)) if cache else None
    models = []
    for name in context.model_names():
        try:
            path = context.model_path(name)
        except cutout_library.CutoutModelNotFound:  # removed since the folder scan
            continue
        if cache is None or os.path.normcase(os.path.dirname(os.path.abspath(path))) != cache:
            models.append((name, path))
    return models


def _combo_choices(spec_input, contexts):
    if "options" in spec_input:
        return list(spec_input["options"])
    # options_from "models": what the library finds in the model folders,
    # then the files of other packs' folders, imported on first use.
    names = [name for name, _ in _library_models(contexts.get("cpu"))]
    default = spec_input.get("default")
    if default is not None and default not in names:
        # Listed so the default still validates; running it says where the
        # file goes and which command fetches it.
        names = [default] + names
    return names + [model.label for model in foreign_models.list_models()]


def _models_tooltip(text, contexts):
    """The spec's tooltip, then each installed model's licence and source,
    then each file of other packs' folders with the state of its import."""
    lines = [text] if text else []
    for name, path in _library_models(contexts.get("cpu")):
        license, source = model_info.provenance(path)
        lines.append(f"{name}: {license}" + (f", {source}" if source else ""))
    foreign = foreign_models.list_models()
    if foreign:
        lines.append("Files of other packs' model folders are imported on first use into "
                     "models/cutout/imported/ (once; again when the file changes):")
        lines.extend(f"{model.label}: {import_cache.describe(model)}" for model in foreign)
    return "\n".join(lines)


def input_types(node_spec, contexts):
    """ComfyUI's INPUT_TYPES dict for a node spec."""
    result = {"required": {}, "optional": {}}
    for spec_input in node_spec["inputs"]:
        kind = spec_input["type"]
        comfy_type = _combo_choices(spec_input, contexts) if kind == "COMBO" else kind
        group = "required" if spec_input["required"] else "optional"
        options = _input_options(spec_input)
        if spec_input.get("options_from") == "models":
            options["tooltip"] = _models_tooltip(options.get("tooltip", ""), contexts)
        result[group][spec_input["name"]] = (comfy_type, options)
    if not result["optional"]:
        del result["optional"]
    return result


# --------------------------------------------------------------------------
# Running a node


def _comfy_module(name):
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        return None


def _tensor_argument(name, value, device):
    """A tensor the library can read in place, on `device`."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name}: expected a torch tensor, got {type(value).__name__}")
    if value.dtype not in SUPPORTED_DTYPES:
        if not value.is_floating_point():
            raise ValueError(
                f"{name}: expected dtype float32, float16 or bfloat16, got {value.dtype}"
            )
        value = value.to(torch.float32)  # float64 and the like: one converted copy
    if device is not None and value.device != device:
        value = value.to(device)  # e.g. a CPU mask for a CUDA image
    return value


def _device_name(device):
    if device.type == "cuda":
        return f"cuda:{device.index if device.index is not None else 0}"
    return device.type


def _raise_interrupt(model_management, cause):
    if model_management is None:
        raise cause
    # ComfyUI's own helper clears the interrupt flag as it raises.
    model_management.throw_exception_if_processing_interrupted()
    raise model_management.InterruptProcessingException() from cause


def _model_not_found(error, model_name, context):
    fetch_tool = cutout_library.REPOSITORY_DIR / "tools" / "fetch-model"
    return CutoutModelNotFound(
        f"{error} Put {model_name}.pt into {model_folders.where_to_put_models(context)} "
        f"(or a folder registered as '{model_folders.FOLDER_KEY}' in extra_model_paths.yaml); "
        f"the default model is fetched by {fetch_tool} (install.py runs it: "
        f"{cutout_library.rebuild_command()}).",
        error.status,
        error.status_name,
    )


def run_node(node_spec, contexts, kwargs):
    """Runs a node spec on ComfyUI's keyword arguments; returns the output tuple."""
    comfy_utils = _comfy_module("comfy.utils")
    model_management = _comfy_module("comfy.model_management")
    kwargs = _import_chosen_model(node_spec, kwargs, comfy_utils, model_management)

    image_inputs = [i for i in node_spec["inputs"] if i["type"] == "IMAGE"]
    first_image = kwargs.get(image_inputs[0]["name"]) if image_inputs else None
    reference = first_image if isinstance(first_image, torch.Tensor) else None
    device = reference.device if reference is not None else torch.device("cpu")

    arguments = []
    for spec_input in node_spec["inputs"]:
        name = spec_input["name"]
        value = kwargs.get(name)
        if value is None:
            continue  # left out: the library applies the default or names it missing
        kind = _VALUE_KINDS[spec_input["type"]]
        if kind == VALUE_TENSOR:
            value = _tensor_argument(name, value, device)
        arguments.append((name, kind, value))

    total = int(reference.shape[0]) if reference is not None and reference.dim() == 4 else 1
    progress_bar = comfy_utils.ProgressBar(total) if comfy_utils is not None else None

    def progress(done, total_items):
        if progress_bar is not None:
            progress_bar.update_absolute(done, total_items)

    def should_abort():
        return model_management is not None and model_management.processing_interrupted()

    context = contexts.get(_device_name(device))
    arguments = _cap_batch_size(arguments, node_spec, device, reference)
    try:
        outputs = context.run(
            node_spec["id"],
            arguments,
            len(node_spec["outputs"]),
            progress=progress,
            should_abort=should_abort,
        )
    except CutoutCancelled as cancelled:
        _raise_interrupt(model_management, cancelled)
    except CutoutModelNotFound as error:
        model_inputs = [i["name"] for i in node_spec["inputs"] if i.get("options_from") == "models"]
        model_name = kwargs.get(model_inputs[0], "") if model_inputs else ""
        raise _model_not_found(error, model_name, context) from None
    finally:
        comfy_memory.after_run(model_management, device)

    if reference is not None and reference.is_floating_point():
        outputs = [out.to(reference.dtype) if out.is_floating_point() else out for out in outputs]
    return tuple(outputs)


def _import_chosen_model(node_spec, kwargs, comfy_utils, model_management):
    """kwargs with a chosen file of another pack's folder replaced by the
    name of its imported model (imported now when needed, with its own
    progress bar); kwargs unchanged for a library model."""
    model_inputs = [i["name"] for i in node_spec["inputs"] if i.get("options_from") == "models"]
    chosen = kwargs.get(model_inputs[0]) if model_inputs else None
    if not isinstance(chosen, str) or not foreign_models.is_label(chosen):
        return kwargs
    foreign = foreign_models.find(chosen)
    if foreign is None:
        raise CutoutModelNotFound(
            f"model: {chosen} is no longer there (expected it in one of the folders "
            f"{foreign_models.where_files_go()}); refresh the page to update the list.",
            cutout_library.CUTOUT_ERR_MODEL_NOT_FOUND, "CUTOUT_ERR_MODEL_NOT_FOUND")
    bar = []

    def progress(fraction, _message):
        if comfy_utils is None:
            return
        if not bar:
            bar.append(comfy_utils.ProgressBar(100))
        bar[0].update_absolute(int(round(fraction * 100)), 100)

    def check_cancel():
        if model_management is not None:
            model_management.throw_exception_if_processing_interrupted()

    name = import_cache.ensure(foreign, progress=progress, check_cancel=check_cancel)
    return {**kwargs, model_inputs[0]: name}


def _cap_batch_size(arguments, node_spec, device, reference):
    """On a GPU, batch_size no larger than the free memory allows (see
    comfy_memory); the arguments unchanged elsewhere."""
    if device.type != "cuda" or not any(i["name"] == "batch_size" for i in node_spec["inputs"]):
        return arguments
    side = 1024 if reference is None else max(int(reference.shape[1]), int(reference.shape[2]), 1024)
    capped = []
    for name, kind, value in arguments:
        if name == "batch_size":
            value = comfy_memory.chunk_for_free_memory(int(value), device, side * side)
        capped.append((name, kind, value))
    return capped


# --------------------------------------------------------------------------
# Classes


def make_node_class(node_spec, contexts):
    """A ComfyUI node class for one node spec."""
    outputs = node_spec["outputs"]

    def INPUT_TYPES(cls):  # noqa: N802 - ComfyUI's name
        return input_types(node_spec, contexts)

    def run(self, **kwargs):
        return run_node(node_spec, contexts, kwargs)

    attributes = {
        "INPUT_TYPES": classmethod(INPUT_TYPES),
        "RETURN_TYPES": tuple(o["type"] for o in outputs),
        "RETURN_NAMES": tuple(o["name"] for o in outputs),
        "OUTPUT_TOOLTIPS": tuple(o.get("tooltip", "") for o in outputs),
        "FUNCTION": "run",
        "CATEGORY": node_spec["category"],
        "DESCRIPTION": node_spec.get("description", ""),
        "SPEC": node_spec,
        "run": run,
        "__doc__": node_spec.get("description", ""),
    }
    return type(comfy_node_id(node_spec["id"]), (object,), attributes)


def build_mappings(library):
    """(NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS) for a loaded library."""
    document = json.loads(library.nodes_json)
    contexts = ContextCache(library)
    comfy_memory.register(contexts)
    comfy_memory.install(_comfy_module("comfy.model_management"))
    classes, display_names = {}, {}
    for node_spec in document["nodes"]:
        node_id = comfy_node_id(node_spec["id"])
        classes[node_id] = make_node_class(node_spec, contexts)
        display_names[node_id] = node_spec["display_name"]
    return classes, display_names


def load():
    """Registers the model folders (ours and other packs'), loads the library
    once and builds the mappings. Raises cutout_library.CutoutLoadError with the rebuild command
    when the library is missing or does not fit this process."""
    model_folders.register()
    foreign_models.register()
    return build_mappings(cutout_library.load_library())


__all__ = ["build_mappings", "load", "comfy_node_id"]
