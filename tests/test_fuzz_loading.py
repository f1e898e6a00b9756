"""2,400 mutated archives, both formats: each loads correctly or is a ValueError.

Every case is built from a valid ``.tgm`` or ``.keras`` file of a small trained
model by one seeded mutation: flipped bytes, a truncation, a JSON value replaced
by junk (huge, negative, NaN, nested, code-like strings), a key removed, a layer
list blown up, a member removed, renamed outside the archive, duplicated or
replaced. For each: the only exception allowed is ``ValueError``; the peak of
Python-tracked memory stays under the stored arrays plus a small constant; no
file appears outside the target (the working directory stays empty); and no
string in a file is ever run (the code-like strings would create a file).
"""

from __future__ import annotations

import io
import json
import os
import random
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("h5py", reason="h5py is in the 'test' extra (Keras' files)")
# building the duplicated-member cases makes zipfile warn, as it should
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

import tinygrad_mlp as tm  # noqa: E402
from tinygrad_mlp.layers import BatchNormalization, Dense, Dropout  # noqa: E402

CASES_PER_FORMAT = 1200
MEMORY_SLACK = 64 * 2**20  # bytes beyond the stored arrays

JUNK = [10**12, -1, -(10**9), 0, 2**63, 1e308, float("nan"), None, True, "", "relu" * 1000,
        "__import__('pathlib').Path('PWNED').touch()", {"class_name": "Lambda"},
        {"class_name": "__keras_tensor__", "config": {}}, [[[]]], [None, 10**9], {"": {}},
        "Functional", "Sequential", "Dense", [1, 2, 3], {"units": 10**10}]  # fmt: skip


def _model():
    tm.utils.set_random_seed(0)
    a = tm.Input((4,), name="a")
    h = Dense(6, activation="tanh", name="hidden")(a)
    h = BatchNormalization(name="bn")(h)
    h = Dropout(0.2, name="drop")(h)
    model = tm.Model(a, Dense(2, activation="softmax", name="out")(h), name="fuzzed")
    model.compile(tm.optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).standard_normal((16, 4)).astype("float32")
    model.fit(x, np.eye(2)[np.arange(16) % 2], epochs=1, verbose=0)
    return model, x


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def _paths(obj, prefix=()):
    """Every (path, value) of a JSON document."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value, delete=False):
    for key in path[:-1]:
        obj = obj[key]
    if delete and isinstance(obj, dict):
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


def _mutate(valid: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["bytes", "bytes", "truncate", "json", "json", "json", "members"])
    if kind == "bytes":
        data = bytearray(valid)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return kind, bytes(data)
    if kind == "truncate":
        return kind, valid[: rng.randrange(len(valid))]
    members = _members(valid)
    if kind == "json":
        name = "config.json"
        doc = json.loads(members[name])
        paths = [p for p, _ in _paths(doc) if p]
        path = rng.choice(paths)
        action = rng.random()
        if action < 0.15:
            _set(doc, path, None, delete=True)
            kind = f"json delete {path}"
        elif action < 0.2:
            layers = next((v for p, v in _paths(doc) if p and p[-1] == "layers"), None)
            if isinstance(layers, list) and layers:
                layers.extend([layers[-1]] * 20_000)
            kind = "json 20,000 layers"
        else:
            value = rng.choice(JUNK)
            _set(doc, path, value)
            kind = f"json {path} = {value!r:.40}"
        members[name] = json.dumps(doc, allow_nan=True).encode()
        return kind, _zip(list(members.items()))
    names = list(members)
    action = rng.randrange(4)
    victim = rng.choice(names)
    if action == 0:
        del members[victim]
        return f"members drop {victim}", _zip(list(members.items()))
    if action == 1:
        items = [("../../escaped_" + n if n == victim else n, d) for n, d in members.items()]
        return f"members rename {victim} outside", _zip(items)
    if action == 2:
        return f"members duplicate {victim}", _zip(list(members.items()) + [(victim, b"x" * 64)])
    members[victim] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 512)))
    return f"members replace {victim}", _zip(list(members.items()))


@pytest.mark.slow
@pytest.mark.parametrize("extension", [".tgm", ".keras"])
def test_mutated_archives_load_or_are_value_errors(extension, tmp_path, monkeypatch):
    model, x = _model()
    folder = tmp_path / "files"
    folder.mkdir()
    valid_path = folder / f"valid{extension}"
    model.save(valid_path)
    valid = valid_path.read_bytes()
    valid_path.unlink()
    stored = sum(w.data.nbytes for w in model.weights) * 4  # weights and optimizer slots
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    rng = random.Random(f"fuzz{extension}")
    target = folder / f"case{extension}"
    outcomes = {"loaded": 0, "refused": 0}
    tracemalloc.start()
    try:
        for i in range(CASES_PER_FORMAT):
            kind, data = _mutate(valid, rng)
            target.write_bytes(data)
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            try:
                loaded = tm.models.load_model(target)
            except ValueError:
                outcomes["refused"] += 1
            except Exception as e:  # noqa: BLE001 - the point: nothing but ValueError
                pytest.fail(f"case {i} ({kind}): {type(e).__name__}: {e}")
            else:
                outcomes["loaded"] += 1
                out = loaded.predict(x, verbose=0)
                assert out.shape == (16, 2), f"case {i} ({kind})"
            peak = tracemalloc.get_traced_memory()[1] - base
            assert peak < stored + len(data) * 4 + MEMORY_SLACK, f"case {i} ({kind}): {peak} B"
    finally:
        tracemalloc.stop()
    assert sorted(os.listdir(folder)) == [target.name]
    assert not list(cwd.iterdir()) and not (Path(tmp_path) / "PWNED").exists()
    assert outcomes["refused"] > CASES_PER_FORMAT // 2 and outcomes["loaded"] > 0, outcomes


@pytest.mark.parametrize("extension", [".tgm", ".keras"])
def test_a_small_forged_config_cannot_allocate_gigabytes(extension, tmp_path):
    """A few bytes of JSON asking for a 10^5 x 10^5 kernel (40 GB), or 20,000 layers: refused
    fast, with tracked memory far below what the config asks for."""
    model, _ = _model()
    valid = tmp_path / f"valid{extension}"
    model.save(valid)
    members = _members(valid.read_bytes())
    key = "config.json"
    for forge in ("huge", "many"):
        doc = json.loads(members[key])
        layers = next(v for p, v in _paths(doc) if p and p[-1] == "layers")
        dense = next(e for e in layers if e.get("class_name") == "Dense")
        if forge == "huge":
            dense["config"]["units"] = 100_000
            first = next(e for e in layers if e.get("class_name") == "InputLayer")["config"]
            first["batch_shape" if extension == ".keras" else "batch_input_shape"] = [None, 100_000]
        else:  # 20,000 small layers: under a megabyte of JSON
            layers.extend([{"class_name": "Dense", "config": {"units": 1}}] * 20_000)
        bad = tmp_path / f"{forge}{extension}"
        bad.write_bytes(_zip([(n, json.dumps(doc).encode() if n == key else d)
                              for n, d in members.items()]))  # fmt: skip
        tracemalloc.start()
        try:
            with pytest.raises(ValueError, match="stored weights|limit"):
                tm.models.load_model(bad)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 2**20, (forge, peak)
