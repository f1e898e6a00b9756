"""Saving and loading models: one zip archive of JSON and ``.npy`` files, never pickle.

``model.save('model.tgm')`` writes, and ``load_model('model.tgm')`` reads back, the
architecture (``model.get_config()``), the compile settings (optimizer, loss,
metrics), every weight in ``model.weights`` order and the optimizer's state, so a
loaded model predicts bit-for-bit as the saved one and continues training exactly
where it stopped. The layout is documented in ``docs/file_format.md``::

    metadata.json          library, version, format version, date, kind
    config.json            {"model", "compile", "weights": [...], "optimizer_state": [...]}
    weights/00000.npy      model.weights[0], then 00001.npy, ...
    optimizer/00000.npy    optimizer.get_state() values, names listed in config.json

Safety. Writing goes to a temporary file in the target's folder, is flushed and
``fsync``-ed, then renamed over the target with ``os.replace`` (atomic): a crash
mid-save leaves the previous file intact. Reading never unpickles and never runs
code: arrays are parsed with ``allow_pickle=False``, member names, sizes (zip
bombs), JSON, the format version, class names, shapes and dtypes are all checked
before any model is built, and every problem is a ``ValueError`` that names it.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

FORMAT_NAME = "tinygrad_mlp"
FORMAT_VERSION = 1
"""Bumped when an archive written by this version cannot be read by older ones."""

METADATA = "metadata.json"
CONFIG = "config.json"
WEIGHTS_DIR = "weights/"
OPTIMIZER_DIR = "optimizer/"

# Limits applied before a byte is decompressed (module-level so tests and users
# with huge models can change them).
MAX_MEMBERS = 100_000
MAX_LAYERS = 10_000  # layers in one model config
MAX_JSON_SIZE = 64 * 2**20  # bytes, per JSON member
MAX_MEMBER_SIZE = 2**31  # bytes, per array member (uncompressed)
MAX_TOTAL_SIZE = 2**33  # bytes, the whole archive uncompressed
MAX_COMPRESSION_RATIO = 200  # uncompressed / compressed, for members over RATIO_MIN_SIZE
RATIO_MIN_SIZE = 2**20

_WEIGHT_DTYPES = ("float16", "float32", "float64")
_STATE_DTYPES = _WEIGHT_DTYPES + (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so equal models give equal members
_RECOMPILE = " (to use the weights anyway: load_model(path, compile=False), then compile)"
_CAN_READ = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]


# ----------------------------------------------------------------------------
# writing


def _member_name(folder: str, index: int) -> str:
    return f"{folder}{index:05d}.npy"


def _manifest(named_arrays: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "shape": list(arr.shape), "dtype": arr.dtype.name}
        for name, arr in named_arrays
    ]


def _model_weights(model: Any) -> list[tuple[str, np.ndarray]]:
    """``model.weights`` as (name, array) pairs, in order; names fall back to ``weight_<i>``."""
    out = []
    for i, w in enumerate(model.weights):
        data = np.asarray(w.data)
        name = getattr(w, "label", "") or f"weight_{i}"
        out.append((str(name), data))
    return out


def _optimizer_state(optimizer: Any) -> list[tuple[str, np.ndarray]]:
    state = optimizer.get_state()
    out = []
    for name, value in state.items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"optimizer state {name!r} must be a numeric array to be saved, "
                f"received dtype {arr.dtype}"
            )
        out.append((str(name), arr))
    return out


def _rng_states(model: Any) -> list[dict[str, Any]]:
    """The random generators of layers such as Dropout, so resumed training draws the same masks."""
    out = []
    for i, layer in enumerate(getattr(model, "layers", [])):
        rng = getattr(layer, "_rng", None)
        if isinstance(rng, np.random.Generator):
            out.append({"layer": i, "name": layer.name, "state": rng.bit_generator.state})
    return out


def _metric_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or getattr(fn, "name", None) or str(fn)


def _compile_config(model: Any) -> dict[str, Any] | None:
    """Optimizer, loss and metric names to recompile a loaded model with (None: uncompiled)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    from tinygrad_mlp import losses, optimizers

    raw = getattr(model, "_compile_config", None) or {}
    loss = raw.get("loss", getattr(model, "loss", None))
    loss_weights = raw.get("loss_weights")

    def one_loss(fn: Any) -> Any:
        return None if fn is None else losses.serialize(losses.get(fn))

    def names(given: Any) -> Any:  # metrics as names, in compile()'s structure (per output)
        if given is None:
            return []
        if isinstance(given, dict):
            return {k: names(v) for k, v in given.items()}
        if isinstance(given, list | tuple):
            return [names(m) if isinstance(m, list | tuple | dict) else _metric_name(m)
                    for m in given]  # fmt: skip
        return [_metric_name(given)]

    if isinstance(loss, dict):
        loss_config: Any = {k: one_loss(v) for k, v in loss.items()}
    elif isinstance(loss, list | tuple):
        loss_config = [one_loss(v) for v in loss]
    else:
        loss_config = one_loss(loss)
    return {
        "optimizer": optimizers.serialize(optimizer),
        "loss": loss_config,
        "metrics": names(raw.get("metrics")),
        "weighted_metrics": names(raw.get("weighted_metrics")),
        "loss_weights": (
            list(loss_weights) if isinstance(loss_weights, list | tuple) else loss_weights
        ),
    }


def _metadata(kind: str) -> dict[str, Any]:
    from tinygrad_mlp import __version__

    now = datetime.datetime.now(datetime.UTC)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "library": "tinygrad_mlp",
        "library_version": __version__,
        "date_saved": now.isoformat(timespec="seconds"),
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":
        return obj.tolist()
    raise TypeError(
        f"cannot save a {type(obj).__name__} ({obj!r:.80}) in config.json: get_config() must "
        "return JSON types (dict, list, str, int, float, bool, None)"
    )


def _to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_json_default)


def _zip_info(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _write_members(
    fileobj: Any,
    metadata: dict[str, Any],
    config: dict[str, Any],
    weights: list[tuple[str, np.ndarray]],
    state: list[tuple[str, np.ndarray]],
) -> None:
    """Write the archive into an open binary file: JSON deflated, arrays stored as ``.npy``."""
    with zipfile.ZipFile(fileobj, "w", allowZip64=True) as zf:
        for name, obj in ((METADATA, metadata), (CONFIG, config)):
            text = _to_json(obj)
            zf.writestr(_zip_info(name, zipfile.ZIP_DEFLATED), text.encode("utf-8"))
        for folder, arrays in ((WEIGHTS_DIR, weights), (OPTIMIZER_DIR, state)):
            for i, (_, arr) in enumerate(arrays):
                info = _zip_info(_member_name(folder, i), zipfile.ZIP_STORED)
                # Arrays go in stored (random floats barely compress), so a large
                # compression ratio in a member is a sign of a forged archive.
                with zf.open(info, "w", force_zip64=arr.nbytes > 2**30) as f:
                    np.save(f, arr, allow_pickle=False)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: str | os.PathLike, write: Callable[[Any], None], overwrite: bool) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    target = os.path.abspath(os.fspath(path))
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a directory, expected a file path")
    if not overwrite and os.path.exists(target):
        raise FileExistsError(f"{path!r} already exists and overwrite=False")
    folder, base = os.path.split(target)
    mode = os.stat(target).st_mode & 0o7777 if os.path.exists(target) else _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Make the rename itself durable (best effort: not every platform can open a folder).
    with contextlib.suppress(OSError, AttributeError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _archive_parts(model: Any) -> tuple[dict[str, Any], list, list]:
    """config.json's content, the weights and the optimizer state of a model's archive."""
    weights = _model_weights(model)
    optimizer = getattr(model, "optimizer", None)
    state = _optimizer_state(optimizer) if optimizer is not None else []
    config = {
        "model": {"class_name": type(model).__name__, "config": model.get_config()},
        "compile": _compile_config(model),
        "weights": _manifest(weights),
        "optimizer_state": _manifest(state),
        "rng_states": _rng_states(model),
    }
    return config, weights, state


def save_model(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Save architecture, compile settings, weights and optimizer state to one zip archive.

    ``model.save(path)`` calls this for a ``.tgm`` name (``.keras`` and ``.h5`` write
    Keras' formats); called directly it writes the archive whatever the name. The write
    is atomic.

    >>> model.save("circle.tgm")                   # doctest: +SKIP
    >>> same = load_model("circle.tgm")            # doctest: +SKIP
    """
    config, weights, state = _archive_parts(model)
    _to_json(config)  # fail on an unserializable config before touching the disk
    metadata = _metadata("model")
    _atomic_write(path, lambda f: _write_members(f, metadata, config, weights, state), overwrite)


def model_to_bytes(model: Any) -> bytes:
    """The ``.tgm`` archive of ``model`` in memory (what pickling a model stores)."""
    config, weights, state = _archive_parts(model)
    buffer = io.BytesIO()
    _write_members(buffer, _metadata("model"), config, weights, state)
    return buffer.getvalue()


def model_from_bytes(data: bytes) -> Any:
    """A model from ``model_to_bytes`` output, through every check ``load_model`` makes."""
    fd, tmp = tempfile.mkstemp(suffix=".tgm")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return load_model(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def save_weights(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Save only ``model.weights`` (same archive layout, ``kind: "weights"``), atomically."""
    weights = _model_weights(model)
    config = {"model": None, "compile": None, "weights": _manifest(weights), "optimizer_state": []}
    metadata = _metadata("weights")
    _atomic_write(path, lambda f: _write_members(f, metadata, config, weights, []), overwrite)


# ----------------------------------------------------------------------------
# reading and validating the archive (no model involved)


def _check_name(name: str, where: str) -> None:
    """Reject names that could escape a folder if the archive were ever extracted."""
    if "\\" in name or "\x00" in name:
        raise ValueError(
            f"{where}: unsafe member name {name!r}: backslashes and NUL are not allowed"
        )
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise ValueError(f"{where}: unsafe member name {name!r}: absolute paths are not allowed")
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(
            f"{where}: unsafe member name {name!r}: path traversal ('..', '.', empty parts) "
            "is not allowed"
        )


def _check_infos(zf: zipfile.ZipFile, where: str) -> dict[str, zipfile.ZipInfo]:
    """Validate every member's name and declared sizes before anything is decompressed."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(f"{where}: has {len(infos)} members, the limit is {MAX_MEMBERS}")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        _check_name(name, where)
        if name in members:
            raise ValueError(f"{where}: member {name!r} appears more than once")
        if info.flag_bits & 0x1:
            raise ValueError(f"{where}: member {name!r} is encrypted")
        if info.compress_type not in _CAN_READ:
            raise ValueError(
                f"{where}: member {name!r} uses unsupported compression {info.compress_type}"
            )
        limit = MAX_JSON_SIZE if name.endswith(".json") else MAX_MEMBER_SIZE
        if info.file_size > limit:
            raise ValueError(
                f"{where}: member {name!r} declares {info.file_size} bytes uncompressed, "
                f"over the size limit of {limit} bytes (possible zip bomb)"
            )
        if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_COMPRESSION_RATIO * max(
            info.compress_size, 1
        ):
            raise ValueError(
                f"{where}: member {name!r} has compression ratio "
                f"{info.file_size / max(info.compress_size, 1):.0f}:1, over the limit of "
                f"{MAX_COMPRESSION_RATIO}:1 (possible zip bomb)"
            )
        total += info.file_size
        if total > MAX_TOTAL_SIZE:
            raise ValueError(
                f"{where}: total uncompressed size exceeds the limit of {MAX_TOTAL_SIZE} "
                f"bytes (possible zip bomb)"
            )
        members[name] = info
    return members


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """Read a member, never more than its declared size (a lying header cannot inflate memory)."""
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, ValueError) as e:
        raise ValueError(f"{where}: member {info.filename!r} is corrupt or truncated: {e}") from e
    except Exception as e:  # zlib.error, lzma.LZMAError, ...
        raise ValueError(f"{where}: member {info.filename!r} cannot be decompressed: {e}") from e
    if len(data) != info.file_size:
        more = "more" if len(data) > info.file_size else "fewer"
        raise ValueError(
            f"{where}: member {info.filename!r} holds {more} bytes than its declared size "
            f"{info.file_size} (corrupt or forged archive)"
        )
    return data


def _read_json(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> dict[str, Any]:
    raw = _read_member(zf, info, where)
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # also UnicodeDecodeError, JSONDecodeError
        raise ValueError(f"{where}: {info.filename} is not valid JSON: {e}") from e
    if not isinstance(obj, dict):
        raise ValueError(
            f"{where}: {info.filename} must hold a JSON object, received {type(obj).__name__}"
        )
    return obj


def _check_manifest(entries: Any, key: str, dtypes: tuple[str, ...], where: str) -> list[dict]:
    if not isinstance(entries, list):
        raise ValueError(
            f"{where}: config.json {key!r} must be a list, received {type(entries).__name__}"
        )
    for i, e in enumerate(entries):
        ok = (
            isinstance(e, dict)
            and isinstance(e.get("name"), str)
            and isinstance(e.get("shape"), list)
            and all(type(d) is int and d >= 0 for d in e["shape"])
            and isinstance(e.get("dtype"), str)
        )
        if not ok:
            raise ValueError(
                f"{where}: config.json {key}[{i}] must be "
                f'{{"name": str, "shape": [int, ...], "dtype": str}}, received {e!r:.200}'
            )
        if e["dtype"] not in dtypes:
            raise ValueError(
                f"{where}: {key} entry {e['name']!r} has dtype {e['dtype']!r}, "
                f"expected one of {', '.join(dtypes)}"
            )
    return entries


def _parse_npy(raw: bytes, entry: dict, member: str, where: str) -> np.ndarray:
    """Parse ``.npy`` bytes with ``allow_pickle=False`` and check them against the manifest."""
    what = f"{where}: member {member!r} ({entry['name']!r})"
    buf = io.BytesIO(raw)
    try:
        # read_array is what np.load uses for .npy; calling it directly also refuses
        # .npz and pickle payloads instead of dispatching on their magic bytes.
        arr = np.lib.format.read_array(buf, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise ValueError(
                f"{what} holds a Python object array, which would need pickle: refused "
                "(archives hold only numeric arrays)"
            ) from e
        raise ValueError(f"{what} is not a valid .npy array: {e}") from e
    except Exception as e:
        raise ValueError(f"{what} is not a valid .npy array: {e}") from e
    if buf.tell() != len(raw):
        raise ValueError(f"{what} has {len(raw) - buf.tell()} unexpected trailing bytes")
    if arr.dtype.name != entry["dtype"] or arr.dtype.hasobject:
        raise ValueError(
            f"{what} has dtype {arr.dtype}, expected {entry['dtype']} as listed in config.json"
        )
    if list(arr.shape) != entry["shape"]:
        raise ValueError(
            f"{what} has shape {arr.shape}, expected {tuple(entry['shape'])} as listed in "
            "config.json"
        )
    return arr


class _Archive:
    """A fully validated archive: metadata, config and every array, read into memory."""

    def __init__(
        self,
        metadata: dict[str, Any],
        config: dict[str, Any],
        weights: list[tuple[str, np.ndarray]],
        state: list[tuple[str, np.ndarray]],
    ) -> None:
        self.metadata = metadata
        self.config = config
        self.weights = weights
        self.state = state


def _read_archive(path: str | os.PathLike) -> _Archive:
    """Open, check and read a whole archive; every problem is a ``ValueError`` naming it."""
    where = f"cannot load {os.fspath(path)!r}"
    if not os.path.exists(path):
        raise ValueError(f"{where}: file not found")
    if os.path.isdir(path):
        raise ValueError(f"{where}: it is a directory, expected a tinygrad_mlp archive file")
    try:
        zf = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError) as e:  # fmt: skip
        raise ValueError(
            f"{where}: not a tinygrad_mlp archive (not a zip file, or truncated): {e}"
        ) from e
    with zf:
        members = _check_infos(zf, where)
        for required in (METADATA, CONFIG):
            if required not in members:
                raise ValueError(
                    f"{where}: missing member {required!r} (not a tinygrad_mlp archive?); "
                    f"found {sorted(members)[:10]}"
                )
        metadata = _read_json(zf, members[METADATA], where)
        if metadata.get("format") != FORMAT_NAME:
            raise ValueError(
                f"{where}: metadata.json format is {metadata.get('format')!r}, "
                f"expected {FORMAT_NAME!r}"
            )
        version = metadata.get("format_version")
        if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
            newer = type(version) is int and version > FORMAT_VERSION
            raise ValueError(
                f"{where}: unknown format version {version!r}, this library reads versions "
                f"1 to {FORMAT_VERSION}" + (" (written by a newer tinygrad_mlp?)" if newer else "")
            )
        if metadata.get("kind") not in ("model", "weights"):
            raise ValueError(
                f"{where}: metadata.json kind is {metadata.get('kind')!r}, "
                "expected 'model' or 'weights'"
            )
        config = _read_json(zf, members[CONFIG], where)
        for key in ("model", "compile", "weights", "optimizer_state"):
            if key not in config:
                raise ValueError(f"{where}: config.json has no {key!r} entry")
        w_entries = _check_manifest(config["weights"], "weights", _WEIGHT_DTYPES, where)
        s_entries = _check_manifest(
            config["optimizer_state"], "optimizer_state", _STATE_DTYPES, where
        )

        expected: dict[str, tuple[str, dict]] = {}
        for folder, entries in ((WEIGHTS_DIR, w_entries), (OPTIMIZER_DIR, s_entries)):
            for i, e in enumerate(entries):
                expected[_member_name(folder, i)] = (folder, e)
        allowed = set(expected) | {METADATA, CONFIG, WEIGHTS_DIR, OPTIMIZER_DIR}
        unexpected = sorted(set(members) - allowed)
        if unexpected:
            raise ValueError(
                f"{where}: unexpected member(s) {unexpected[:10]}; the archive lists "
                f"{len(w_entries)} weights and {len(s_entries)} optimizer state arrays"
            )
        for name in (WEIGHTS_DIR, OPTIMIZER_DIR):
            if name in members and members[name].file_size:
                raise ValueError(f"{where}: folder entry {name!r} is not empty")
        missing = [n for n in expected if n not in members]
        if missing:
            folder, e = expected[missing[0]]
            raise ValueError(
                f"{where}: missing member {missing[0]!r} ({e['name']!r} listed in config.json)"
                + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
            )
        weights, state = [], []
        for name, (folder, e) in expected.items():
            arr = _parse_npy(_read_member(zf, members[name], where), e, name, where)
            (weights if folder == WEIGHTS_DIR else state).append((e["name"], arr))
    return _Archive(metadata, config, weights, state)


# ----------------------------------------------------------------------------
# from a validated archive to a model


def _known(module: Any, base: type) -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, base) and not name.startswith("_")
    }


def _check_layer_classes(model_config: Any, where: str, custom_objects: Any = None) -> None:
    """Refuse any layer class this library does not define, before building anything."""
    from tinygrad_mlp import layers
    from tinygrad_mlp._registry import CUSTOM_OBJECTS

    known = dict(getattr(layers, "_LAYERS", None) or _known(layers, layers.Layer))
    known.pop("Layer", None)
    known.update({k: v for k, v in CUSTOM_OBJECTS.items() if isinstance(v, type)})
    known.update(custom_objects or {})
    inner = model_config.get("config") if isinstance(model_config, dict) else None
    layer_list = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layer_list, list):
        raise ValueError(f"{where}: config.json model config has no 'layers' list")
    if len(layer_list) > MAX_LAYERS:
        raise ValueError(
            f"{where}: config.json lists {len(layer_list)} layers, over the limit of {MAX_LAYERS}"
        )
    for i, layer in enumerate(layer_list):
        cls = layer.get("class_name") if isinstance(layer, dict) else None
        if not isinstance(cls, str) or cls not in known:
            raise ValueError(
                f"{where}: unknown layer class {cls!r} (layer {i}); known layer classes: "
                f"{', '.join(sorted(known))}"
            )


def _check_finite(arrays: list[tuple[str, np.ndarray]], where: str, allowed: bool) -> None:
    """NaN/inf in stored weights or optimizer state is refused unless the caller allows it."""
    if allowed:
        return
    for name, arr in arrays:
        if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
            raise ValueError(
                f"{where}: {name!r} holds NaN or infinite values; pass allow_nonfinite=True to "
                "load it anyway"
            )


def _build_model(archive: _Archive, where: str, custom_objects: Any = None) -> Any:
    """Build under a budget: the layers may allocate no more than the stored arrays."""
    from tinygrad_mlp.layers import weight_budget

    stored = sum(int(arr.size) for _, arr in archive.weights)
    with weight_budget(stored, ""):  # the refusal is wrapped with ``where`` below
        return _build_model_unbudgeted(archive, where, custom_objects)


def _build_model_unbudgeted(archive: _Archive, where: str, custom_objects: Any = None) -> Any:
    from tinygrad_mlp import models

    model_config = archive.config["model"]
    if not isinstance(model_config, dict):
        raise ValueError(
            f"{where}: the archive holds weights only (no architecture); build the model "
            "and call model.load_weights(path) instead"
        )
    cls_name = model_config.get("class_name")
    known_models = {"Sequential": models.Sequential, "Functional": models.Functional}
    if cls_name not in known_models:
        raise ValueError(
            f"{where}: unknown model class {cls_name!r}; known model classes: "
            f"{', '.join(sorted(known_models))}"
        )
    _check_layer_classes(model_config, where, custom_objects)
    try:
        return known_models[cls_name].from_config(model_config["config"], custom_objects)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        raise ValueError(f"{where}: invalid model config in config.json: {e}") from e


def _check_weights_fit(model: Any, weights: list[tuple[str, np.ndarray]], where: str) -> None:
    """Weights match ``model.weights`` one to one in count, shape and dtype."""
    targets = list(model.weights)
    if len(targets) != len(weights):
        raise ValueError(
            f"{where}: the archive holds {len(weights)} weights but the model has "
            f"{len(targets)} (expected names: {[t.label for t in targets][:10]}; received "
            f"names: {[n for n, _ in weights][:10]})"
        )
    for target, (name, arr) in zip(targets, weights, strict=True):
        data = np.asarray(target.data)
        label = getattr(target, "label", "") or name
        if data.shape != arr.shape:
            raise ValueError(
                f"{where}: weight {label!r} has shape {data.shape} in the model, received "
                f"shape {arr.shape} from the archive ({name!r})"
            )
        if data.dtype != arr.dtype:
            raise ValueError(
                f"{where}: weight {label!r} has dtype {data.dtype} in the model, received "
                f"dtype {arr.dtype} from the archive ({name!r})"
            )


def _restore_rng_states(model: Any, entries: Any, where: str) -> None:
    """Put each layer's random generator back in its saved state (plain integers, no code)."""
    if not isinstance(entries, list):
        raise ValueError(f"{where}: config.json 'rng_states' must be a list")
    layers = list(getattr(model, "layers", []))
    for entry in entries:
        i = entry.get("layer") if isinstance(entry, dict) else None
        rng = getattr(layers[i], "_rng", None) if type(i) is int and 0 <= i < len(layers) else None
        if not isinstance(rng, np.random.Generator) or not isinstance(entry.get("state"), dict):
            raise ValueError(
                f"{where}: config.json rng_states entry {entry!r:.200} does not match a layer "
                "with a random generator"
            )
        expected = type(rng.bit_generator).__name__
        if entry["state"].get("bit_generator") != expected:
            raise ValueError(
                f"{where}: layer {layers[i].name!r} random generator state is for "
                f"{entry['state'].get('bit_generator')!r}, expected {expected!r}"
            )
        try:
            rng.bit_generator.state = entry["state"]
        except (ValueError, TypeError, KeyError, OverflowError) as e:
            raise ValueError(
                f"{where}: invalid random generator state for layer {layers[i].name!r}: {e}"
            ) from e


def _compile_from_config(compile_config: Any, where: str) -> dict[str, Any]:
    """Rebuild the optimizer, loss and metric names from config.json's compile entry."""
    from tinygrad_mlp import losses, metrics, optimizers

    if not isinstance(compile_config, dict):
        raise ValueError(
            f"{where}: config.json 'compile' must be an object or null, received "
            f"{type(compile_config).__name__}"
        )
    try:
        optimizer = optimizers.deserialize(compile_config["optimizer"])
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ValueError(
            f"{where}: unknown or invalid optimizer in config.json: {e}{_RECOMPILE}"
        ) from e

    def one_loss(cfg: Any) -> Any:
        return None if cfg is None else losses.deserialize(cfg)

    try:
        loss_cfg = compile_config.get("loss")
        if isinstance(loss_cfg, list):  # one loss per output
            loss: Any = [one_loss(c) for c in loss_cfg]
        elif isinstance(loss_cfg, dict) and "class_name" not in loss_cfg:
            loss = {k: one_loss(c) for k, c in loss_cfg.items()}
        else:
            loss = one_loss(loss_cfg)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"{where}: unknown or invalid loss in config.json: {e}{_RECOMPILE}") from e

    def leaves(given: Any) -> list[Any]:
        if isinstance(given, dict):
            return [leaf for v in given.values() for leaf in leaves(v)]
        if isinstance(given, list):
            return [leaf for v in given for leaf in leaves(v)]
        return [given]

    names: dict[str, Any] = {}
    for key in ("metrics", "weighted_metrics"):
        given = compile_config.get(key) or []
        if not isinstance(given, list | dict) or not all(isinstance(m, str) for m in leaves(given)):
            raise ValueError(f"{where}: config.json compile {key!r} must be a list of names")
        try:
            for m in leaves(given):
                metrics.get(m, loss=loss if not isinstance(loss, list | dict) else None)
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{where}: unknown metric in config.json: {e}{_RECOMPILE}") from e
        names[key] = given
    loss_weights = compile_config.get("loss_weights")
    numbers = (
        loss_weights if isinstance(loss_weights, list)
        else list(loss_weights.values()) if isinstance(loss_weights, dict) else [loss_weights]
    )  # fmt: skip
    if loss_weights is not None and not all(isinstance(w, int | float) for w in numbers):
        raise ValueError(
            f"{where}: config.json compile 'loss_weights' must be a number or a list of "
            f"numbers, received {loss_weights!r:.100}"
        )
    return {
        "optimizer": optimizer,
        "loss": loss,
        "metrics": names["metrics"] or None,
        "weighted_metrics": names["weighted_metrics"] or None,
        "loss_weights": loss_weights,
    }


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Any:
    """Decorator: make a class (a layer, loss, metric, ...) or a function loadable by name.

    ``@register_keras_serializable(package="course")`` on ``class Scale(Layer)`` lets
    ``load_model`` rebuild it from a file (``.tgm`` or Keras') without ``custom_objects``,
    under the registered name ``"course>Scale"``, as in Keras. Loading looks names up
    here; it never imports a module or runs code a file names.
    """
    from tinygrad_mlp._registry import CUSTOM_OBJECTS

    def decorator(obj: Any) -> Any:
        key = f"{package}>{name or obj.__name__}"
        if key in CUSTOM_OBJECTS and CUSTOM_OBJECTS[key] is not obj:
            raise ValueError(f"{key} has already been registered to {CUSTOM_OBJECTS[key]}")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"Cannot register a class that does not have a get_config() method: {obj!r}"
            )
        CUSTOM_OBJECTS[key] = obj
        CUSTOM_OBJECTS.setdefault(name or obj.__name__, obj)
        obj._registered_name = key
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """``"package>Name"`` for a registered object, else its name."""
    return getattr(obj, "_registered_name", None) or getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: dict | None = None) -> Any:
    """The object registered (or given in ``custom_objects``) under ``name``, or None."""
    from tinygrad_mlp._registry import registered

    return (custom_objects or {}).get(name) or registered(name)


def get_custom_objects() -> dict[str, Any]:
    """The live registry of ``register_keras_serializable`` (Keras' ``get_custom_objects``)."""
    from tinygrad_mlp._registry import CUSTOM_OBJECTS

    return CUSTOM_OBJECTS


NATIVE_EXTENSION = ".tgm"
_MODEL_EXTENSIONS = (".keras", ".h5", ".tgm")
_WEIGHT_EXTENSIONS = (".weights.h5", ".tgm")


def _kind_of(path: Any, extensions: tuple[str, ...], what: str) -> str:
    """The format a file name asks for; an unknown extension is a clear error."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path!r}: it is a directory, expected a file path")
    name = os.fspath(path).lower()
    for ext in extensions:
        if name.endswith(ext):
            return ext
    if name.endswith(".h5") or name.endswith(".hdf5"):
        raise ValueError(
            f"cannot {what} {os.fspath(path)!r}: weights go in Keras 3's '.weights.h5' layout "
            f"(a plain .h5 holds a whole model); valid extensions: {', '.join(extensions)}"
        )
    raise ValueError(
        f"cannot {what} {os.fspath(path)!r}: unknown file extension; valid extensions: "
        f"{', '.join(extensions)} ({'.keras' if '.keras' in extensions else '.weights.h5'} is "
        "Keras 3's own format, .h5 Keras' legacy one, .tgm this library's archive)"
    )


def save_any(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """``model.save``: Keras 3's ``.keras``, Keras' legacy ``.h5`` or this library's ``.tgm``,
    by the name."""
    kind = _kind_of(path, _MODEL_EXTENSIONS, "save to")
    if kind == ".keras":
        from tinygrad_mlp.keras_format import save_keras

        save_keras(model, path, overwrite=overwrite)
    elif kind == ".h5":
        from tinygrad_mlp.keras_format import save_h5

        save_h5(model, path, overwrite=overwrite)
    else:
        save_model(model, path, overwrite=overwrite)


def save_weights_any(model: Any, path: str | os.PathLike, overwrite: bool = True) -> None:
    """``model.save_weights``: Keras 3's ``.weights.h5`` or this library's ``.tgm``."""
    if _kind_of(path, _WEIGHT_EXTENSIONS, "save weights to") == ".weights.h5":
        from tinygrad_mlp.keras_format import save_keras_weights

        save_keras_weights(model, path, overwrite=overwrite)
    else:
        save_weights(model, path, overwrite=overwrite)


def _is_keras_archive(path: Any) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return "model.weights.h5" in zf.namelist()
    except Exception:  # noqa: BLE001 - any unreadable zip is left to the archive reader's errors
        return False


def _is_hdf5(path: Any) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def load_model(
    path: str | os.PathLike,
    compile: bool = True,
    custom_objects: dict | None = None,
    safe_mode: bool = True,
    allow_nonfinite: bool = False,
) -> Any:
    """Load a model saved by ``model.save``: a Keras 3 ``.keras`` file (from here or from
    Keras) or this library's ``.tgm`` archive, told apart by their contents.

    Everything is validated before the model is built: a bad file raises a
    ``ValueError`` naming the problem and no model is returned. With
    ``compile=True`` (and a compiled model saved) the model is recompiled with its
    optimizer, whose state (step count, momenta, moments) is restored. Loading never
    runs code: ``safe_mode`` cannot be turned off (a Lambda is always refused).
    """
    if _is_hdf5(path):
        from tinygrad_mlp.keras_format import load_h5

        return load_h5(path, custom_objects=custom_objects, compile=compile,
                       allow_nonfinite=allow_nonfinite)  # fmt: skip
    if _is_keras_archive(path):
        from tinygrad_mlp.keras_format import load_keras

        return load_keras(path, custom_objects=custom_objects, compile=compile,
                          allow_nonfinite=allow_nonfinite)  # fmt: skip
    archive = _read_archive(path)
    where = f"cannot load {os.fspath(path)!r}"
    if archive.metadata["kind"] != "model":
        raise ValueError(
            f"{where}: the archive holds weights only (kind 'weights'); build the model and "
            "call model.load_weights(path) instead"
        )
    compile_config = archive.config["compile"] if compile else None
    compiled = None
    if compile_config is not None:
        compiled = _compile_from_config(compile_config, where)
    _check_finite(archive.weights + archive.state, where, allow_nonfinite)
    model = _build_model(archive, where, custom_objects)
    _check_weights_fit(model, archive.weights, where)
    _restore_rng_states(model, archive.config.get("rng_states", []), where)
    model.set_weights([arr for _, arr in archive.weights])
    if compiled is not None:
        from tinygrad_mlp import optimizers

        try:
            model.compile(**compiled)
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"{where}: cannot compile with the saved settings: {e}") from e
        if archive.state:
            state = {name: arr for name, arr in archive.state}
            try:
                # A throw-away twin registers the variables as the first training step
                # would, so every slot's shape is checked now; the real optimizer keeps
                # unseen slots pending exactly as the saved one did.
                probe = optimizers.deserialize(optimizers.serialize(model.optimizer))
                if hasattr(probe, "build"):
                    probe.build(model.trainable_weights)
                    probe.set_state(state)
                model.optimizer.set_state(state)
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"{where}: optimizer state does not fit: {e}") from e
    return model


def load_weights(model: Any, path: str | os.PathLike) -> None:
    """Set ``model.weights`` from an archive written by ``save_weights`` or ``save_model``.

    The weights are matched by position (``model.weights`` order); count, shapes and
    dtypes are all checked before any weight is changed. A Keras 3 ``.weights.h5``
    file is matched layer by layer as Keras does.
    """
    if _is_hdf5(path):
        from tinygrad_mlp.keras_format import load_keras_weights

        load_keras_weights(model, path)
        return
    archive = _read_archive(path)
    where = f"cannot load weights from {os.fspath(path)!r}"
    if not getattr(model, "built", True) or (not model.weights and archive.weights):
        raise ValueError(
            f"{where}: the model has no weights yet; build it first (give the first layer "
            "input_dim/input_shape or call it on data) before load_weights"
        )
    _check_weights_fit(model, archive.weights, where)
    model.set_weights([arr for _, arr in archive.weights])
