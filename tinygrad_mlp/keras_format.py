"""Keras 3's own files: ``model.keras`` and ``model.weights.h5``, both ways.

A ``.keras`` file is a zip of three members:

* ``metadata.json``: the Keras version and the date;
* ``config.json``: the model as Keras serializes it, every object as
  ``{"module", "class_name", "config", "registered_name"}``, plus the model's
  ``build_config`` and ``compile_config``;
* ``model.weights.h5``: HDF5 (through ``h5py``) with one group per layer,
  ``layers/<path>/vars/<i>``, where ``<path>`` is the layer's class in snake case
  numbered per container (``dense``, ``dense_1``; a nested model's layers under
  ``layers/sequential/layers/...``) and ``<i>`` counts the layer's own variables
  (trainable, then the others); and ``optimizer/vars/<i>``: the iteration count,
  the learning rate, then the optimizer's slots in Keras' order.

``.weights.h5`` is the same HDF5 layout alone. Reading never runs code: the
config is plain JSON mapped onto this library's classes by name, a name this
library does not know is a ``ValueError``, every array's shape and dtype is
checked against the model before any is assigned, and NaN/inf values are
refused unless ``allow_nonfinite=True``.
"""

from __future__ import annotations

import datetime
import inspect
import io
import json
import os
import re
import zipfile
from typing import Any

import numpy as np

__all__ = ["save_keras", "load_keras", "save_keras_weights", "load_keras_weights"]

KERAS_VERSION = "3.15.1"  # the version whose layout these files follow
MAX_MEMBER = 1 << 31  # no member of a .keras archive may claim more than 2 GiB
MAX_CONFIG = 16 << 20  # config.json and metadata.json: 16 MiB
MAX_LAYERS = 10_000

_MODULE_BY_SUFFIX = (
    ("_initializer", "keras.initializers"),
    ("_regularizer", "keras.regularizers"),
    ("_constraint", "keras.constraints"),
)

# Keras' optimizer slots: each pass creates one variable per model variable, and a pass with
# several names interleaves them (m_0, v_0, m_1, v_1, ...); passes follow each other
_SLOT_PASSES: dict[str, list[tuple[str, ...]]] = {
    "SGD": [("momentum",)],
    "Adagrad": [("accumulator",)],
    "RMSprop": [("velocity",), ("momentum",), ("average_gradient",)],
    "Adam": [("momentum", "velocity"), ("velocity_hat",)],
    "AdamW": [("momentum", "velocity"), ("velocity_hat",)],
    "Nadam": [("momentum", "velocity")],
    "Adamax": [("momentum", "norm")],
    "Adadelta": [("accumulated_grad", "accumulated_delta_var")],
    "Ftrl": [("accumulator", "linear")],
    "Lion": [("momentum",)],
}


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py comes with the 'keras' extra
        raise ImportError(
            "Keras' .keras and .weights.h5 files need h5py: pip install 'tinygrad_mlp[keras]' "
            "(or save to a .tgm file, which needs nothing more)"
        ) from e
    return h5py


def _snake(name: str) -> str:
    """Keras' ``to_snake_case``: ``BatchNormalization`` -> ``batch_normalization``."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return s if not s.startswith("_") else "private" + s


def _policy(dtype: Any) -> dict[str, Any]:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)},
            "registered_name": None}  # fmt: skip


# ----------------------------------------------------------------------------
# ours -> Keras


def _keras_object(entry: Any, module: str) -> Any:
    """``{"class_name", "config"}`` with Keras' ``module`` and ``registered_name``."""
    if isinstance(entry, dict) and "class_name" in entry:
        return {"module": module, "class_name": entry["class_name"],
                "config": entry.get("config", {}), "registered_name": None}  # fmt: skip
    return entry


def _keras_layer_config(layer: Any) -> dict[str, Any]:
    config = dict(layer.get_config())
    config.pop("batch_input_shape", None)
    config["dtype"] = _policy(layer.dtype)
    for key, value in list(config.items()):
        for suffix, module in _MODULE_BY_SUFFIX:
            if key.endswith(suffix):
                config[key] = _keras_object(value, module)
    return config


def _keras_layer(layer: Any) -> dict[str, Any]:
    from tinygrad_mlp.layers import InputLayer
    from tinygrad_mlp.models import Functional, Model, Sequential

    if isinstance(layer, InputLayer):
        entry = {"module": "keras.layers", "class_name": "InputLayer",
                 "config": {"batch_shape": list(layer._batch_input_shape),
                            "dtype": str(layer.dtype), "sparse": False, "ragged": False,
                            "name": layer.name, "optional": False},
                 "registered_name": None}  # fmt: skip
    elif isinstance(layer, Sequential):
        entry = {"module": "keras", "class_name": "Sequential",
                 "config": _sequential_config(layer), "registered_name": None,
                 "build_config": {"input_shape": list(layer.input_shape)}}  # fmt: skip
    elif isinstance(layer, Functional):
        entry = {"module": "keras.src.models.functional", "class_name": "Functional",
                 "config": _functional_config(layer), "registered_name": "Functional",
                 "build_config": {"input_shape": None}}  # fmt: skip
    elif isinstance(layer, Model):
        raise ValueError(
            f"cannot write the subclassed model {type(layer).__name__!r} as a Keras file: its "
            "architecture is Python code; save its weights with save_weights('x.weights.h5')"
        )
    else:
        if type(layer).__name__ == "Lambda":
            raise ValueError(
                f"cannot write the Lambda layer {layer.name!r} into a Keras file: its function "
                "is Python code, which Keras' safe loading refuses; use a named layer"
            )
        registered = getattr(type(layer), "_registered_name", None)
        entry = {"module": type(layer).__module__ if registered else "keras.layers",
                 "class_name": type(layer).__name__, "config": _keras_layer_config(layer),
                 "registered_name": registered}  # fmt: skip
        if layer.built:
            shape = layer._build_shape
            entry["build_config"] = {"input_shape": _jsonable_shape(shape)}
    return entry


def _jsonable_shape(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [list(s) for s in shape]
    return None if shape is None else list(shape)


def _sequential_config(model: Any) -> dict[str, Any]:
    layers = []
    if model._input_layer is not None:
        layers.append(_keras_layer(model._input_layer))
    layers += [_keras_layer(layer) for layer in model.layers]
    return {"name": model.name, "trainable": model.trainable, "dtype": _policy("float32"),
            "layers": layers}  # fmt: skip


def _functional_config(model: Any) -> dict[str, Any]:
    ours = model.get_config()
    by_name = {layer.name: layer for layer in model.layers}
    layers = []
    for entry in ours["layers"]:
        keras_entry = _keras_layer(by_name[entry["name"]])
        keras_entry["name"] = entry["name"]
        keras_entry["inbound_nodes"] = entry["inbound_nodes"]
        layers.append(keras_entry)
    return {
        "name": ours["name"],
        "trainable": ours["trainable"],
        "layers": layers,
        "input_layers": ours["input_layers"],
        "output_layers": ours["output_layers"],
    }


def _keras_compile_config(model: Any) -> dict[str, Any] | None:
    from tinygrad_mlp import optimizers

    raw = getattr(model, "_compile_config", None)
    if not raw or model.optimizer is None:
        return None
    opt = optimizers.serialize(model.optimizer)
    opt_config = dict(opt["config"])
    lr = opt_config.get("learning_rate")
    if isinstance(lr, dict):
        opt_config["learning_rate"] = _keras_object(lr, "keras.optimizers.schedules")
    return {
        "optimizer": {
            "module": "keras.optimizers",
            "class_name": opt["class_name"],
            "config": opt_config,
            "registered_name": None,
        },  # fmt: skip
        "loss": _names(raw.get("loss")),
        "loss_weights": raw.get("loss_weights"),
        "metrics": _names(raw.get("metrics")),
        "weighted_metrics": _names(raw.get("weighted_metrics")),
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def _names(value: Any) -> Any:
    """Losses and metrics as the names Keras reads (objects by their registered names)."""
    from tinygrad_mlp import losses

    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {k: _names(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_names(v) for v in value]
    if isinstance(value, losses.Loss):
        entry = losses.serialize(value)
        return {"module": "keras.losses", "class_name": entry["class_name"],
                "config": entry["config"], "registered_name": None}  # fmt: skip
    name = getattr(value, "name", None) or getattr(value, "__name__", None)
    if not isinstance(name, str):
        raise ValueError(f"cannot name {value!r} in a Keras compile config")
    return name


def _layer_paths(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(HDF5 group path, layer) for every layer Keras saves, nested models included."""
    out = [(prefix.rstrip("/") or "", model)] if prefix else []
    counts: dict[str, int] = {}
    for layer in _keras_order(model):
        base = _snake(type(layer).__name__)
        k = counts.get(base, 0)
        counts[base] = k + 1
        path = f"{prefix}layers/{base if k == 0 else f'{base}_{k}'}"
        if getattr(layer, "_is_model", False):
            out.extend(_layer_paths(layer, path + "/"))
        else:
            out.append((path, layer))
    return out


def _keras_order(model: Any) -> list[Any]:
    """``model.layers`` in Keras' order: for a functional graph by depth from the outputs
    (inputs first), ties in the order a walk from the outputs first meets them."""
    from tinygrad_mlp.models import Functional

    if not isinstance(model, Functional):
        return list(model.layers)
    first_seen: dict[int, int] = {}
    depth: dict[int, int] = {}
    nodes = {id(n): n for n in model._nodes}

    def walk(node: Any, d: int) -> None:
        if id(node.layer) not in first_seen:
            first_seen[id(node.layer)] = len(first_seen)
        depth[id(node)] = max(depth.get(id(node), 0), d)
        for parent in node.parent_nodes:
            if id(parent) in nodes:
                walk(parent, d + 1)

    for t in model.outputs:
        layer, index, _ = t._keras_history
        walk(layer._inbound_nodes[index], 0)
    layer_depth: dict[int, int] = {}
    for node in model._nodes:
        layer_depth[id(node.layer)] = max(layer_depth.get(id(node.layer), 0), depth[id(node)])
    layers = list(model.layers)
    return sorted(layers, key=lambda la: (-layer_depth[id(la)], first_seen[id(la)]))


def _own_variables(layer: Any) -> list[Any]:
    if getattr(layer, "_is_model", False):
        return []
    return list(layer._own_weights(True) + layer._own_weights(False)) if layer._trainable else (
        list(layer._weights))  # fmt: skip


def _optimizer_arrays(model: Any) -> list[np.ndarray] | None:
    """Keras' ``optimizer/vars`` list: iteration, learning rate, then the slots."""
    opt = model.optimizer
    if opt is None or not getattr(opt, "_variables", None):
        return None
    name = type(opt).__name__
    passes = _SLOT_PASSES.get(name)
    if passes is None:
        raise ValueError(f"the optimizer {name} has no Keras variable layout")
    arrays = [np.array(opt.iterations, dtype=np.int64)]
    lr = opt._learning_rate
    if not callable(lr):
        arrays.append(np.array(opt.learning_rate, dtype=np.float32))
    for group in passes:
        present = [s for s in group if s in opt._slot_names]
        for slots in opt._slots:
            arrays.extend(slots[s] for s in present)
    if name == "Nadam":
        arrays.append(np.array(opt._u_product, dtype=np.float32))
    return arrays


def _optimizer_names(model: Any) -> list[str]:
    """Keras' names of the optimizer arrays: ``adam/iteration``, ``adam/seq_d1_bias_momentum``."""
    opt = model.optimizer
    prefix = opt.name
    names = [f"{prefix}/iteration"]
    if not callable(opt._learning_rate):
        names.append(f"{prefix}/learning_rate")
    paths = [f"{model.name}_{(v.label or f'variable_{i}').replace('/', '_')}"
             for i, v in enumerate(opt._variables)]  # fmt: skip
    for group in _SLOT_PASSES[type(opt).__name__]:
        present = [s for s in group if s in opt._slot_names]
        for path in paths:
            names.extend(f"{prefix}/{path}_{s}" for s in present)
    if type(opt).__name__ == "Nadam":
        names.append("variable")
    return names


def _write_h5(model: Any, include_optimizer: bool = True) -> bytes:
    h5py = _h5py()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        top = f.create_group("vars")
        top.attrs["name"] = model.name
        f.create_group("layers")
        for path, layer in _layer_paths(model):
            group = f.require_group(path)
            variables = group.create_group("vars")
            variables.attrs["name"] = layer.name
            for i, w in enumerate(_own_variables(layer)):
                variables.create_dataset(str(i), data=np.asarray(w.data))
            if getattr(layer, "_is_model", False):
                group.require_group("layers")
        arrays = _optimizer_arrays(model) if include_optimizer else None
        if arrays is not None:
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = model.optimizer.name
            for i, arr in enumerate(arrays):
                data = arr.astype(np.int32) if i == 0 else arr
                group.create_dataset(str(i), data=data)
    return buffer.getvalue()


def _model_entry(model: Any, kind: str) -> dict[str, Any]:
    """The model's own Keras entry (as ``_keras_layer`` writes a nested one); a subclassed
    model, whose architecture is code, is refused."""
    from tinygrad_mlp.models import Functional, Sequential

    if isinstance(model, Sequential):
        model._require_built("save")
    elif not isinstance(model, Functional):
        raise ValueError(
            f"cannot write the subclassed model {type(model).__name__!r} as a {kind} file: its "
            "architecture is Python code; save its weights with save_weights('x.weights.h5')"
        )
    return _keras_layer(model)


def save_keras(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Write ``model`` as Keras 3's ``.keras`` zip (atomically)."""
    from tinygrad_mlp.saving import _atomic_write

    config = _model_entry(model, ".keras")
    compile_config = _keras_compile_config(model)
    if compile_config is not None:
        config["compile_config"] = compile_config
    text = json.dumps(config)
    weights = _write_h5(model)
    now = datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")
    metadata = json.dumps({"keras_version": KERAS_VERSION, "date_saved": now})

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", metadata)
            zf.writestr("config.json", text)
            zf.writestr("model.weights.h5", weights)

    _atomic_write(path, write, overwrite)


def save_keras_weights(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Write Keras 3's ``.weights.h5``: the layers' variables (and the optimizer's)."""
    from tinygrad_mlp.saving import _atomic_write

    model._require_built("save_weights")
    data = _write_h5(model)
    _atomic_write(path, lambda f: f.write(data), overwrite)


# ----------------------------------------------------------------------------
# Keras -> ours


def _strip(entry: Any, where: str) -> Any:
    """A Keras object dict as this library's ``{"class_name", "config"}`` (recursively)."""
    if isinstance(entry, dict):
        if entry.get("class_name") == "DTypePolicy":
            return entry.get("config", {}).get("name", "float32")
        if "class_name" in entry and "config" in entry:
            from tinygrad_mlp._registry import registered

            registered_name = entry.get("registered_name")
            if (
                registered_name not in (None, entry["class_name"])
                and registered(registered_name) is not None
            ):  # a user's class registered with register_keras_serializable
                return {"class_name": registered_name, "config": _strip(entry["config"], where)}
            if (
                registered_name not in (None, entry["class_name"])
                or str(entry.get("module", "keras")).split(".")[0] != "keras"
            ):
                raise ValueError(
                    f"{where}: {entry['class_name']!r} is a user-registered object "
                    f"({entry.get('registered_name')!r}); register it with custom_objects"
                )
            inner = _strip(entry["config"], where)
            if isinstance(inner, dict):  # Keras-only settings left unused
                inner = {k: v for k, v in inner.items() if not (k in _KERAS_ONLY and v is None)}
            return {"class_name": entry["class_name"], "config": inner}
        return {k: _strip(v, where) for k, v in entry.items() if k != "shared_object_id"}
    if isinstance(entry, list):
        return [_strip(v, where) for v in entry]
    return entry


# settings of Keras' initializers that this library's have no use for while they are None
_KERAS_ONLY = frozenset({"input_axes", "output_axes"})

# Keras config keys this library does not have, with the values that mean "not used"
_UNUSED_KEYS: dict[str, tuple[Any, ...]] = {
    "quantization_config": (None,), "lora_rank": (None,), "lora_alpha": (None,),
    "synchronized": (False,), "renorm": (False,), "renorm_clipping": (None,),
    "renorm_momentum": (0.99,), "sparse": (False,), "ragged": (False,), "optional": (False,),
    "mask_zero": (False,), "embeddings_constraint": (None,), "rms_scaling": (False,),
    "input_length": (None,), "activity_regularizer": (None,), "data_format": ("channels_last",),
}  # fmt: skip


def _our_layer_entry(entry: dict[str, Any], where: str, custom_objects: Any) -> dict[str, Any]:
    from tinygrad_mlp import layers as layers_module

    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(f"{where}: a layer entry must have a 'config' object")
    name = entry.get("class_name")
    if not isinstance(name, str):
        raise ValueError(f"{where}: a layer's class_name must be a string, received {name!r:.80}")
    if name in ("Sequential", "Functional", "Model"):
        config = _our_model_config(name, entry["config"], where, custom_objects)
        return {"class_name": "Functional" if name == "Model" else name, "config": config}
    from tinygrad_mlp._registry import CUSTOM_OBJECTS

    known = dict(layers_module._LAYERS)
    known.update({k: v for k, v in CUSTOM_OBJECTS.items() if isinstance(v, type)})
    known.update(custom_objects or {})
    registered_name = entry.get("registered_name")
    if isinstance(registered_name, str) and registered_name in known:
        name = registered_name  # "package>Name": the user's registered class
    cls = known.get(name)
    if cls is None:
        raise ValueError(
            f"{where}: unknown layer class {name!r}; known layer classes: "
            f"{', '.join(sorted(known))}"
        )
    if name == "Lambda":
        raise ValueError(
            f"{where}: the file holds a Lambda layer, whose function is code; loading never runs "
            "code (Keras' safe_mode refuses it too)"
        )
    config = _strip(entry["config"], where)
    if name != "InputLayer":
        params = inspect.signature(cls.__init__).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        accepted = set(params) | (
            set(inspect.signature(layers_module.Layer.__init__).parameters) if takes_kwargs
            else set()
        )  # fmt: skip
        for key in list(config):
            if key in accepted:
                continue
            if (
                config[key] is None
                or config[key] is False
                or (key in _UNUSED_KEYS and config[key] in _UNUSED_KEYS[key])
            ):  # a setting Keras has and this library lacks, left at "not used"
                del config[key]
                continue
            raise ValueError(
                f"{where}: layer {config.get('name')!r} ({name}) has the setting {key}="
                f"{config[key]!r}, which this library does not support"
            )
    else:
        for key in ("sparse", "ragged", "optional"):
            if config.get(key):
                raise ValueError(f"{where}: an InputLayer with {key}=True is not supported")
    out = {"class_name": name, "config": config}
    if "name" in entry:
        out["name"] = entry["name"]
    if "inbound_nodes" in entry:
        out["inbound_nodes"] = entry["inbound_nodes"]
    return out


def _our_model_config(kind: str, config: Any, where: str, custom_objects: Any) -> dict:
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"{where}: the model config has no 'layers' list")
    if len(config["layers"]) > MAX_LAYERS:
        raise ValueError(
            f"{where}: the model config lists {len(config['layers'])} layers, more than the "
            f"limit of {MAX_LAYERS}"
        )
    layers = [_our_layer_entry(e, where, custom_objects) for e in config["layers"]]
    out: dict[str, Any] = {"name": config.get("name"), "layers": layers}
    if kind != "Sequential":
        out["trainable"] = config.get("trainable", True)
        for key in ("input_layers", "output_layers"):
            refs = config.get(key)
            if isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], list):
                refs = refs[0]  # one input/output: Keras' single tensor
            out[key] = refs
    return out


def _check_zip(zf: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    infos = {}
    for info in zf.infolist():
        if info.filename in infos:
            raise ValueError(f"{where}: the archive has two members named {info.filename!r}")
        infos[info.filename] = info
    for name in ("config.json", "model.weights.h5"):
        if name not in infos:
            raise ValueError(f"{where}: not a Keras .keras archive (no {name})")
    for name, info in infos.items():
        limit = MAX_CONFIG if name.endswith(".json") else MAX_MEMBER
        if info.file_size > limit:
            raise ValueError(
                f"{where}: member {name!r} claims {info.file_size} bytes (limit {limit})"
            )
    return infos


def _read_json_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> Any:
    from tinygrad_mlp.saving import _read_member

    raw = _read_member(zf, info, where)  # never more than declared; corrupt = ValueError
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{where}: {info.filename} is not valid JSON: {e}") from None


def _build_from_keras_config(config: Any, where: str, custom_objects: Any) -> Any:
    from tinygrad_mlp import models

    if not isinstance(config, dict):
        raise ValueError(f"{where}: config.json must hold an object")
    kind = config.get("class_name")
    if kind not in ("Sequential", "Functional", "Model"):
        raise ValueError(
            f"{where}: unknown model class {kind!r}; known: Sequential, Functional (a subclassed "
            "model is rebuilt by its own code, then load_weights)"
        )
    try:  # the config is untrusted JSON: any mismatch of types is a malformed file
        ours = _our_model_config(kind, config.get("config"), where, custom_objects)
    except (TypeError, AttributeError, KeyError, IndexError) as e:
        raise ValueError(f"{where}: invalid model config: {type(e).__name__}: {e}") from e
    try:
        if kind == "Sequential":
            model = models.Sequential.from_config(ours, custom_objects)
            shape = (config.get("build_config") or {}).get("input_shape")
            if not model.built and isinstance(shape, list):
                model.build(tuple(shape))
        else:
            model = models.Functional.from_config(ours, custom_objects)
    except (TypeError, KeyError, AttributeError, IndexError) as e:
        raise ValueError(f"{where}: invalid model config: {e}") from e
    return model


def _stored_scalars(data: bytes, where: str) -> int:
    """How many numbers the layers' datasets of an HDF5 weights file hold in all."""
    h5py = _h5py()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise ValueError(f"{where}: the weights are not a valid HDF5 file: {e}") from None
    total = [0]

    def count(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and name.startswith("layers/"):
            total[0] += int(np.prod(obj.shape, dtype=np.int64))

    with f:
        f.visititems(count)
    return total[0]


def _read_h5_arrays(group: Any, where: str, path: str) -> list[np.ndarray]:
    h5py = _h5py()

    if not isinstance(group, h5py.Group):
        raise ValueError(f"{where}: {path} is not an HDF5 group")
    keys = list(group.keys())
    if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
        raise ValueError(f"{where}: {path} must hold datasets named 0..n-1, found {keys[:10]}")
    out = []
    for i in range(len(keys)):
        ds = group[str(i)]
        if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "biuf":
            raise ValueError(f"{where}: {path}/{i} is not a numeric dataset")
        out.append(ds)
    return out


def _read_checked(plan: list[tuple[Any, Any]], where: str, allow_nonfinite: bool) -> list:
    """Each (weight, dataset) pair's array in the weight's dtype; NaN/inf refused unless allowed."""
    values = []
    for w, ds in plan:
        arr = np.asarray(ds).astype(w.data.dtype, copy=False)
        if not allow_nonfinite and arr.size and not np.isfinite(arr).all():
            raise ValueError(
                f"{where}: weight {w.label!r} holds NaN or infinite values; pass "
                "allow_nonfinite=True to load it anyway"
            )
        values.append(arr)
    return values


def _assign_h5(model: Any, data: bytes, where: str, allow_nonfinite: bool, optimizer: bool) -> None:
    """Check every stored array against the model, then assign them all."""
    h5py = _h5py()

    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise ValueError(f"{where}: the weights are not a valid HDF5 file: {e}") from None
    with f:
        plan: list[tuple[Any, Any]] = []
        for path, layer in _layer_paths(model):
            variables = _own_variables(layer)
            group = f.get(path + "/vars")
            if group is None:
                if variables:
                    raise ValueError(
                        f"{where}: no weights stored for layer {layer.name!r} ({path})"
                    )
                continue
            stored = _read_h5_arrays(group, where, path + "/vars")
            if len(stored) != len(variables):
                raise ValueError(
                    f"{where}: layer {layer.name!r} has {len(variables)} variables, the file "
                    f"stores {len(stored)} at {path}/vars"
                )
            for w, ds in zip(variables, stored, strict=True):
                if tuple(ds.shape) != w.data.shape:
                    raise ValueError(
                        f"{where}: weight {w.label!r} has shape {w.data.shape}, the file stores "
                        f"shape {tuple(ds.shape)}"
                    )
                plan.append((w, ds))
        opt_arrays = None
        opt_group = f.get("optimizer/vars")
        if optimizer and opt_group is not None and model.optimizer is not None:
            opt_arrays = [
                np.asarray(ds) for ds in _read_h5_arrays(opt_group, where, "optimizer/vars")
            ]
        values = _read_checked(plan, where, allow_nonfinite)
    if opt_arrays is not None:
        _set_optimizer(model, opt_arrays, where, allow_nonfinite)
    for (w, _), arr in zip(plan, values, strict=True):
        w.data[...] = arr


def _set_optimizer(model: Any, arrays: list[np.ndarray], where: str, allow_nonfinite: bool) -> None:
    opt = model.optimizer
    name = type(opt).__name__
    passes = _SLOT_PASSES.get(name)
    if passes is None:
        raise ValueError(f"{where}: the optimizer {name} has no Keras variable layout")
    opt.build(model.trainable_weights)
    if len(arrays) < 1:
        raise ValueError(f"{where}: the optimizer state is empty")
    iterations = int(np.asarray(arrays[0]).reshape(()))
    k = 1
    if not callable(opt._learning_rate):
        k += 1  # the learning rate lives in the compile config too
    state: dict[str, np.ndarray] = {}
    for group in passes:
        present = [s for s in group if s in opt._slot_names]
        for i, slots in enumerate(opt._slots):
            for s in present:
                if k >= len(arrays):
                    raise ValueError(f"{where}: the optimizer state has too few variables")
                arr = arrays[k]
                if arr.shape != slots[s].shape:
                    raise ValueError(
                        f"{where}: optimizer variable {k} ({s} of variable {i}) has shape "
                        f"{arr.shape}, expected {slots[s].shape}"
                    )
                if not allow_nonfinite and not np.isfinite(arr).all():
                    raise ValueError(f"{where}: optimizer variable {k} holds NaN or inf values")
                state[f"{s}_{i}"] = arr
                k += 1
    extra = {}
    if name == "Nadam" and k < len(arrays):
        extra["u_product"] = arrays[k]
        k += 1
    if k != len(arrays):
        raise ValueError(
            f"{where}: the optimizer state has {len(arrays)} variables, expected {k} for {name}"
        )
    opt.set_state({"iterations": np.array(iterations), **state, **extra})


def load_keras(
    path: str | os.PathLike,
    custom_objects: dict | None = None,
    compile: bool = True,
    safe_mode: bool = True,
    allow_nonfinite: bool = False,
) -> Any:
    """Read a Keras 3 ``.keras`` file into a model of this library (weights, optimizer state)."""
    where = f"cannot load {os.fspath(path)!r}"
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError) as e:  # fmt: skip
        raise ValueError(f"{where}: not a .keras zip archive ({e})") from None
    with zf:
        infos = _check_zip(zf, where)
        config = _read_json_member(zf, infos["config.json"], where)
        from tinygrad_mlp.saving import _read_member

        data = _read_member(zf, infos["model.weights.h5"], where)
    from tinygrad_mlp.layers import weight_budget

    with weight_budget(_stored_scalars(data, where), f"{where}: "):  # no more than stored
        model = _build_from_keras_config(config, where, custom_objects)
    compile_config = config.get("compile_config") if compile else None
    if compile_config:
        try:
            _compile_from_keras(model, compile_config, where)
        except (TypeError, AttributeError, KeyError, IndexError) as e:
            raise ValueError(f"{where}: invalid compile config: {type(e).__name__}: {e}") from e
    _assign_h5(model, data, where, allow_nonfinite, optimizer=bool(compile_config))
    return model


def _compile_from_keras(model: Any, cc: Any, where: str) -> None:
    from tinygrad_mlp import optimizers

    if not isinstance(cc, dict):
        raise ValueError(f"{where}: compile_config must be an object")
    opt = _strip(cc.get("optimizer"), where)
    if isinstance(opt, str):
        optimizer = optimizers.get(opt)
    else:
        if not isinstance(opt, dict):
            raise ValueError(f"{where}: compile_config has no optimizer")
        opt_config = dict(opt.get("config", {}))
        for key in ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                    "gradient_accumulation_steps"):  # fmt: skip
            value = opt_config.pop(key, None)
            if key == "use_ema" and value:
                raise ValueError(f"{where}: optimizer use_ema=True is not supported")
            if key in ("loss_scale_factor", "gradient_accumulation_steps") and value:
                raise ValueError(f"{where}: optimizer {key}={value!r} is not supported")
        try:
            optimizer = optimizers.deserialize(
                {"class_name": opt["class_name"], "config": opt_config}
            )
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{where}: unknown or invalid optimizer: {e}") from e
    try:
        model.compile(
            optimizer=optimizer,
            loss=_loss_from_keras(_strip(cc.get("loss"), where)),
            metrics=cc.get("metrics"),
            loss_weights=cc.get("loss_weights"),
            weighted_metrics=cc.get("weighted_metrics"),
        )
    except (ValueError, TypeError) as e:
        raise ValueError(f"{where}: invalid compile config: {e}") from e


def _loss_from_keras(loss: Any) -> Any:
    from tinygrad_mlp import losses

    if isinstance(loss, dict) and "class_name" in loss:
        return losses.deserialize(loss)
    if isinstance(loss, dict):
        return {k: _loss_from_keras(v) for k, v in loss.items()}
    if isinstance(loss, list):
        return [_loss_from_keras(v) for v in loss]
    return loss


def load_keras_weights(model: Any, path: str | os.PathLike, allow_nonfinite: bool = False) -> None:
    """Read Keras 3's ``.weights.h5`` into ``model`` (built, of the same architecture)."""
    where = f"cannot load {os.fspath(path)!r}"
    model._require_built("load_weights")
    with open(path, "rb") as f:
        data = f.read()
    _assign_h5(model, data, where, allow_nonfinite, optimizer=model.optimizer is not None)


# ----------------------------------------------------------------------------
# Keras' legacy whole-model HDF5 (``model.save("model.h5")``)


def _byte_names(names: list[str]) -> np.ndarray:
    """A list of names as HDF5 stores them in an attribute (fixed-length bytes)."""
    return np.array([n.encode() for n in names], dtype="S") if names else np.zeros(0, "S1")


def _legacy_weight_name(model: Any, layer: Any, w: Any) -> str:
    short = w.label.rsplit("/", 1)[-1] if getattr(w, "label", "") else "weight"
    return f"{model.name}/{layer.name}/{short}"


def save_h5(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Write Keras' legacy ``.h5``: ``model_config`` and ``training_config`` as JSON
    attributes, ``model_weights/<layer>/<weight name>`` and ``optimizer_weights``."""
    from tinygrad_mlp.saving import _atomic_write

    h5py = _h5py()
    entry = _model_entry(model, ".h5")
    config = {"class_name": entry["class_name"], "config": entry["config"]}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["backend"] = "numpy"
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["model_config"] = json.dumps(config)
        compile_config = _keras_compile_config(model)
        if compile_config is not None:
            training = {k: v for k, v in compile_config.items() if k != "optimizer"}
            opt = compile_config["optimizer"]
            training["optimizer_config"] = {"class_name": opt["class_name"],
                                            "config": opt["config"]}  # fmt: skip
            f.attrs["training_config"] = json.dumps(training)
        weights = f.create_group("model_weights")
        weights.attrs["backend"] = "numpy"
        weights.attrs["keras_version"] = KERAS_VERSION
        layers = list(model.layers)
        weights.attrs["layer_names"] = _byte_names([la.name for la in layers])
        for layer in layers:
            group = weights.create_group(layer.name)
            own = list(layer.weights)
            names = [_legacy_weight_name(model, layer, w) for w in own]
            group.attrs["weight_names"] = _byte_names(names)
            for name, w in zip(names, own, strict=True):
                group.create_dataset(name, data=np.asarray(w.data))
        top = weights.create_group("top_level_model_weights")
        top.attrs["weight_names"] = _byte_names([])
        arrays = _optimizer_arrays(model) if compile_config is not None else None
        if arrays is not None:
            group = f.create_group("optimizer_weights")
            names = _optimizer_names(model)
            group.attrs["weight_names"] = _byte_names(names)
            for i, (name, arr) in enumerate(zip(names, arrays, strict=True)):
                group.create_dataset(name, data=arr.astype(np.int32) if i == 0 else arr)
    data = buffer.getvalue()
    _atomic_write(path, lambda fh: fh.write(data), overwrite)


def _names_attr(group: Any, key: str, where: str) -> list[str]:
    raw = group.attrs.get(key)
    if raw is None:
        raise ValueError(f"{where}: {group.name} has no {key!r} attribute")
    try:
        names = [
            n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(raw).reshape(-1)
        ]
    except (TypeError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{where}: {group.name} attribute {key!r} is not a list of names") from e
    if len(names) > MAX_LAYERS * 16:
        raise ValueError(f"{where}: {group.name} lists {len(names)} names, over the limit")
    return names


def load_h5(
    path: str | os.PathLike,
    custom_objects: dict | None = None,
    compile: bool = True,
    allow_nonfinite: bool = False,
) -> Any:
    """Read Keras' legacy whole-model ``.h5`` (as Keras 3 writes it) into a model here."""
    from tinygrad_mlp.layers import weight_budget

    h5py = _h5py()
    where = f"cannot load {os.fspath(path)!r}"
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{where}: not a valid HDF5 file: {e}") from None
    with f:
        try:
            text = f.attrs.get("model_config")
            text = text.decode() if isinstance(text, bytes) else text
            if not isinstance(text, str) or len(text) > MAX_CONFIG:
                raise ValueError(f"{where}: the file has no model_config (a weights-only file?)")
            config = json.loads(text)
            training = f.attrs.get("training_config")
            if isinstance(training, bytes):
                training = training.decode()
            training = json.loads(training) if training is not None else None
            group = f.get("model_weights")
            if not isinstance(group, h5py.Group):
                raise ValueError(f"{where}: the file has no model_weights group")
            stored = [0]

            def count(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    stored[0] += int(np.prod(obj.shape, dtype=np.int64))

            group.visititems(count)
            with weight_budget(stored[0], f"{where}: "):
                model = _build_from_keras_config(config, where, custom_objects)
            if compile and isinstance(training, dict):
                cc = {k: training.get(k) for k in ("loss", "metrics", "loss_weights",
                                                   "weighted_metrics")}  # fmt: skip
                cc["optimizer"] = training.get("optimizer_config")
                _compile_from_keras(model, cc, where)
            _assign_legacy(model, f, group, where, allow_nonfinite, compile)
        except (TypeError, AttributeError, KeyError, IndexError, json.JSONDecodeError,
                UnicodeDecodeError, OSError) as e:  # fmt: skip
            raise ValueError(
                f"{where}: malformed legacy HDF5 model: {type(e).__name__}: {e}"
            ) from e
    return model


def _assign_legacy(
    model: Any, f: Any, group: Any, where: str, allow_nonfinite: bool, optimizer: bool
) -> None:
    h5py = _h5py()
    plan = []
    names = _names_attr(group, "layer_names", where)
    by_name = {layer.name: layer for layer in model.layers}
    for name in names:
        layer = by_name.get(name)
        sub = group.get(name)
        if layer is None or not isinstance(sub, h5py.Group):
            raise ValueError(f"{where}: the file's layer {name!r} is not in the model")
        weight_names = _names_attr(sub, "weight_names", where)
        own = list(layer.weights)
        if len(weight_names) != len(own):
            raise ValueError(
                f"{where}: layer {name!r} has {len(own)} weights, the file stores "
                f"{len(weight_names)}"
            )
        for w, wname in zip(own, weight_names, strict=True):
            ds = sub.get(wname)
            if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "biuf":
                raise ValueError(f"{where}: weight {wname!r} of layer {name!r} is missing")
            if tuple(ds.shape) != w.data.shape:
                raise ValueError(
                    f"{where}: weight {w.label!r} has shape {w.data.shape}, the file stores "
                    f"{tuple(ds.shape)}"
                )
            plan.append((w, ds))
    with_weights = [la for la in model.layers if la.weights]
    if len({id(w) for w, _ in plan}) != sum(len(la.weights) for la in with_weights):
        raise ValueError(f"{where}: the file does not store every weight of the model")
    values = _read_checked(plan, where, allow_nonfinite)
    opt_group = f.get("optimizer_weights")
    if optimizer and model.optimizer is not None and isinstance(opt_group, h5py.Group):
        names = _names_attr(opt_group, "weight_names", where)
        arrays = []
        for n in names:
            ds = opt_group.get(n)
            if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "biuf":
                raise ValueError(f"{where}: optimizer weight {n!r} is missing")
            arrays.append(np.asarray(ds))
        _set_optimizer(model, arrays, where, allow_nonfinite)
    for (w, _), arr in zip(plan, values, strict=True):
        w.data[...] = arr
