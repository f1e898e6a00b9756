"""Tests for ``tinygrad_mlp.saving``: round trips, resumed training, atomic writes and
a corpus of malformed archives that must each be refused with a clear ``ValueError``.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp import saving
from tinygrad_mlp.layers import Activation, BatchNormalization, Dense, Dropout
from tinygrad_mlp.models import Sequential, load_model
from tinygrad_mlp.optimizers import SGD, Adagrad, Adam, ExponentialDecay, Nadam, RMSprop

# ----------------------------------------------------------------------------
# helpers


def _data(n: int = 64, features: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, :1] + x[:, 1:2] ** 2 > 0.5).astype(np.float32)
    return x, y


def _small_model(compiled: bool = True) -> Sequential:
    model = Sequential([Dense(5, input_dim=4, activation="tanh"), Dense(1, activation="sigmoid")])
    if compiled:
        model.compile(
            optimizer=SGD(0.1, momentum=0.9), loss="binary_crossentropy", metrics=["accuracy"]
        )
    return model


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write_zip(path: Path, members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _edit_json(members: dict[str, bytes], name: str, edit: Callable[[dict], None]) -> None:
    obj = json.loads(members[name])
    edit(obj)
    members[name] = json.dumps(obj).encode()


def _set_declared_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size of ``member`` in the zip's central directory."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        name = bytes(out[pos + 46 : pos + 46 + name_len]).decode()
        if name == member:
            struct.pack_into("<I", out, pos + 24, size)
            return bytes(out)
        pos = out.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{member} not in central directory")


def _assert_same_weights(a: Sequential, b: Sequential) -> None:
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb, strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)


# ----------------------------------------------------------------------------
# round trips


def test_round_trip_predictions_bit_for_bit(tmp_path: Path) -> None:
    x, y3 = _data(96, 4, seed=1)
    labels = (np.abs(x[:, 0]) * 2).astype(int).clip(0, 2)
    model = Sequential(
        [
            Dense(16, input_dim=4, activation="relu"),
            BatchNormalization(),
            Dropout(0.3),
            Dense(8, activation="elu"),
            Activation("tanh"),
            Dense(8, activation="swish"),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(x, labels, epochs=2, batch_size=16, verbose=0)  # moves BN statistics too
    path = tmp_path / "model.tgm"
    model.save(path)
    loaded = load_model(path)

    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    _assert_same_weights(model, loaded)
    assert loaded.get_config() == model.get_config()
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert type(loaded.optimizer) is Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.metrics_names == model.metrics_names
    # the loss is the same function: same value on the same data
    assert loaded.evaluate(x, labels, verbose=0) == model.evaluate(x, labels, verbose=0)


def test_archive_layout_matches_the_documented_format(tmp_path: Path) -> None:
    model = _small_model()
    for name in ("model.zip", "model.pkl", "model"):  # no name writes a format it does not say
        with pytest.raises(ValueError, match=r"valid extensions: \.keras, \.h5, \.tgm"):
            model.save(tmp_path / name)
    assert not list(tmp_path.iterdir())
    path = tmp_path / "model.tgm"
    model.save(path)
    members = _members(path)
    n = len(model.weights)
    state = model.optimizer.get_state()
    assert set(members) == (
        {"metadata.json", "config.json"}
        | {f"weights/{i:05d}.npy" for i in range(n)}
        | {f"optimizer/{i:05d}.npy" for i in range(len(state))}
    )
    meta = json.loads(members["metadata.json"])
    assert meta["format"] == "tinygrad_mlp" and meta["format_version"] == saving.FORMAT_VERSION
    assert meta["kind"] == "model" and meta["library"] == "tinygrad_mlp"
    assert meta["date_saved"].endswith("+00:00")
    config = json.loads(members["config.json"])
    assert config["model"] == {"class_name": "Sequential", "config": model.get_config()}
    assert [e["name"] for e in config["weights"]] == [w.label for w in model.weights]
    assert config["compile"]["metrics"] == ["accuracy"]
    for i, w in enumerate(model.weights):
        arr = np.load(io.BytesIO(members[f"weights/{i:05d}.npy"]), allow_pickle=False)
        assert np.array_equal(arr, w.data) and arr.dtype == w.data.dtype


def test_saving_twice_gives_identical_members_except_the_date(tmp_path: Path) -> None:
    model = _small_model()
    model.save(tmp_path / "a.tgm")
    load_model(tmp_path / "a.tgm").save(tmp_path / "b.tgm")
    a, b = _members(tmp_path / "a.tgm"), _members(tmp_path / "b.tgm")
    a.pop("metadata.json")
    b.pop("metadata.json")
    assert a == b


_ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "elu", "selu", "softplus", "gelu", "swish"]


@settings(max_examples=12)
@given(
    n_in=st.integers(1, 6),
    layers=st.lists(
        st.tuples(st.integers(1, 9), st.sampled_from(_ACTIVATIONS), st.booleans(), st.booleans()),
        min_size=1,
        max_size=3,
    ),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_random_architectures_round_trip(
    n_in: int, layers: list[tuple[int, str, bool, bool]], seed: int, dtype: str
) -> None:
    model = Sequential()
    for i, (units, activation, use_bias, batch_norm) in enumerate(layers):
        kwargs = {"input_dim": n_in} if i == 0 else {}
        model.add(Dense(units, activation=activation, use_bias=use_bias, dtype=dtype, **kwargs))
        if batch_norm:
            model.add(BatchNormalization(dtype=dtype))
    rng = np.random.default_rng(seed)
    # random values everywhere (also BN's moving statistics, kept positive for the variance)
    model.set_weights([np.abs(rng.normal(size=w.shape)).astype(w.dtype) for w in model.weights])
    x = rng.normal(size=(7, n_in)).astype(dtype)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.tgm")
        model.save(path)
        loaded = load_model(path)
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    _assert_same_weights(model, loaded)


def test_uncompiled_model_round_trips_and_load_without_compile(tmp_path: Path) -> None:
    model = _small_model(compiled=False)
    model.save(tmp_path / "raw.tgm")
    loaded = load_model(tmp_path / "raw.tgm")
    assert loaded.optimizer is None
    _assert_same_weights(model, loaded)

    unbuilt = Sequential([Dense(3, activation="relu"), Dense(1)])
    unbuilt.save(tmp_path / "unbuilt.tgm")
    again = load_model(tmp_path / "unbuilt.tgm")
    assert not again.built and again.get_config() == unbuilt.get_config()

    compiled = _small_model()
    compiled.save(tmp_path / "compiled.tgm")
    assert load_model(tmp_path / "compiled.tgm", compile=False).optimizer is None


def test_custom_loss_is_saved_by_name_and_needs_compile_false(tmp_path: Path) -> None:
    def my_loss(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean()

    model = _small_model(compiled=False)
    model.compile(optimizer="adam", loss=my_loss)
    model.save(tmp_path / "custom.tgm")
    with pytest.raises(ValueError, match=r"loss.*my_loss.*compile=False"):
        load_model(tmp_path / "custom.tgm")
    loaded = load_model(tmp_path / "custom.tgm", compile=False)
    _assert_same_weights(model, loaded)


def test_save_weights_and_load_weights(tmp_path: Path) -> None:
    source = _small_model()
    target = _small_model()
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(source.get_weights(), target.get_weights(), strict=True)
    )
    source.save_weights(tmp_path / "w.tgm")
    target.load_weights(tmp_path / "w.tgm")
    _assert_same_weights(source, target)
    # a full model archive also feeds load_weights
    other = _small_model()
    source.save(tmp_path / "full.tgm")
    other.load_weights(tmp_path / "full.tgm")
    _assert_same_weights(source, other)
    assert json.loads(_members(tmp_path / "w.tgm")["metadata.json"])["kind"] == "weights"


def test_load_weights_into_a_different_architecture_changes_nothing(tmp_path: Path) -> None:
    _small_model().save_weights(tmp_path / "w.tgm")
    wider = Sequential([Dense(7, input_dim=4, activation="tanh"), Dense(1)])
    before = wider.get_weights()
    with pytest.raises(ValueError, match=r"shape \(4, 7\).*shape \(4, 5\)"):
        wider.load_weights(tmp_path / "w.tgm")
    for a, b in zip(before, wider.get_weights(), strict=True):
        assert np.array_equal(a, b)
    deeper = Sequential([Dense(5, input_dim=4), Dense(5), Dense(1)])
    with pytest.raises(ValueError, match="holds 4 weights but the model has 6"):
        deeper.load_weights(tmp_path / "w.tgm")
    unbuilt = Sequential([Dense(5), Dense(1)])
    with pytest.raises(ValueError, match="build it first"):
        unbuilt.load_weights(tmp_path / "w.tgm")


def test_load_model_refuses_a_weights_only_file(tmp_path: Path) -> None:
    _small_model().save_weights(tmp_path / "w.tgm")
    with pytest.raises(ValueError, match="weights only.*load_weights"):
        load_model(tmp_path / "w.tgm")


# ----------------------------------------------------------------------------
# training continues exactly where it stopped


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: SGD(0.05, momentum=0.9),
        lambda: SGD(0.05, momentum=0.9, nesterov=True),
        lambda: SGD(ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5), momentum=0.5),
        lambda: Adam(0.01),
        lambda: RMSprop(0.01, momentum=0.5),
        lambda: Adagrad(0.1),
        lambda: Nadam(0.01),
    ],
    ids=["sgd-momentum", "sgd-nesterov", "sgd-schedule", "adam", "rmsprop", "adagrad", "nadam"],
)
def test_training_resumes_identically(tmp_path: Path, make_optimizer: Callable) -> None:
    x, y = _data(48, 4, seed=3)

    def fresh(weights: list[np.ndarray] | None) -> Sequential:
        model = Sequential(
            [
                Dense(6, input_dim=4, activation="relu"),
                BatchNormalization(),
                Dropout(0.25, seed=7),  # its generator's state is saved too
                Dense(1, activation="sigmoid"),
            ]
        )
        if weights is not None:
            model.set_weights(weights)
        model.compile(optimizer=make_optimizer(), loss="binary_crossentropy", metrics=["accuracy"])
        return model

    start = fresh(None).get_weights()
    fit = {"batch_size": 8, "shuffle": False, "verbose": 0}

    uninterrupted = fresh(start)
    uninterrupted.fit(x, y, epochs=5, **fit)

    first = fresh(start)
    first.fit(x, y, epochs=2, **fit)
    first.save(tmp_path / "ckpt.tgm")
    resumed = load_model(tmp_path / "ckpt.tgm")
    assert resumed.optimizer.iterations == first.optimizer.iterations == 12
    resumed.fit(x, y, epochs=3, **fit)

    _assert_same_weights(uninterrupted, resumed)
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations

    # control: without the optimizer's state the run diverges, so the check above has teeth
    stateless = load_model(tmp_path / "ckpt.tgm", compile=False)
    stateless.compile(optimizer=make_optimizer(), loss="binary_crossentropy")
    stateless.fit(x, y, epochs=3, **fit)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(stateless.get_weights(), uninterrupted.get_weights(), strict=True)
    )


# ----------------------------------------------------------------------------
# atomic writes


def _temp_files(folder: Path, keep: str) -> list[str]:
    return [name for name in os.listdir(folder) if name != keep]


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_crash_mid_save_leaves_previous_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    path = tmp_path / "model.tgm"
    _small_model().save(path)
    before = path.read_bytes()
    mode = os.stat(path).st_mode

    real_save = np.save
    calls = {"n": 0}

    def crashing_save(file, arr, allow_pickle=True, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # some members are already written
            file.write(b"\x93NUMPY partial")
            raise error
        return real_save(file, arr, allow_pickle=allow_pickle, **kwargs)

    monkeypatch.setattr(np, "save", crashing_save)
    other = _small_model()
    with pytest.raises(type(error)):
        other.save(path)
    assert calls["n"] == 3
    assert path.read_bytes() == before
    assert os.stat(path).st_mode == mode
    assert _temp_files(tmp_path, "model.tgm") == []
    monkeypatch.undo()
    load_model(path)  # still a valid archive


def test_crash_on_first_save_creates_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        _small_model().save(tmp_path / "new.tgm")
    assert os.listdir(tmp_path) == []


def test_unserializable_config_fails_before_touching_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _small_model()
    config = model.get_config()
    monkeypatch.setattr(model, "get_config", lambda: {**config, "callback": print})
    with pytest.raises(TypeError, match="JSON types"):
        model.save(tmp_path / "m.tgm")
    assert os.listdir(tmp_path) == []


def test_overwrite_false_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "model.tgm"
    _small_model().save(path)
    os.chmod(path, 0o640)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        _small_model().save(path, overwrite=False)
    assert path.read_bytes() == before
    _small_model().save(path)  # overwriting keeps the file's permissions
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert path.read_bytes() != before
    with pytest.raises(IsADirectoryError):
        _small_model().save(tmp_path)


# ----------------------------------------------------------------------------
# malformed archives: each a ValueError with a telling message, no file created


def _forged(path: Path, members: dict[str, bytes]) -> bytes:
    return _write_zip(path, members).read_bytes()


def _case_not_zip(valid: Path, members: dict[str, bytes]) -> bytes:
    return b"this is not a zip file at all\n" * 10


def _case_empty(valid: Path, members: dict[str, bytes]) -> bytes:
    return b""


def _case_truncated(valid: Path, members: dict[str, bytes]) -> bytes:
    data = valid.read_bytes()
    return data[: len(data) // 2]


def _case_last_bytes_cut(valid: Path, members: dict[str, bytes]) -> bytes:
    return valid.read_bytes()[:-10]


def _case_flipped_byte(valid: Path, members: dict[str, bytes]) -> bytes:
    data = bytearray(valid.read_bytes())
    # the end of weights/00000.npy's data: stored, so the raw float bytes are in the file
    start = data.find(b"\x93NUMPY")
    data[start + 140] ^= 0xFF
    return bytes(data)


def _case_missing_config(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    del members["config.json"]
    return members


def _case_missing_metadata(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    del members["metadata.json"]
    return members


def _case_missing_weight(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    del members["weights/00001.npy"]
    return members


def _case_extra_member(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["weights/00099.npy"] = members["weights/00000.npy"]
    return members


def _case_extra_script(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["run_me.py"] = b"import os; os.system('echo pwned')"
    return members


def _case_duplicate(valid: Path, members: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(valid, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("config.json", members["config.json"])
    return valid.read_bytes()


def _traversal(name: str) -> Callable:
    def case(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
        members[name] = members["weights/00000.npy"]
        return members

    return case


def _case_bad_json(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["config.json"] = members["config.json"][:-20] + b"{{{"
    return members


def _case_json_not_object(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["metadata.json"] = b"[1, 2, 3]"
    return members


def _case_future_version(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(members, "metadata.json", lambda m: m.update(format_version=99))
    return members


def _case_wrong_format(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(members, "metadata.json", lambda m: m.update(format="keras"))
    return members


def _case_lambda_layer(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    def edit(config: dict) -> None:
        config["model"]["config"]["layers"][1] = {
            "class_name": "Lambda",
            "config": {"name": "code", "function": "__import__('os').system('touch pwned')"},
        }

    _edit_json(members, "config.json", edit)
    return members


def _case_unknown_layer(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    def edit(config: dict) -> None:
        config["model"]["config"]["layers"][1]["class_name"] = "TFOpLambda"

    _edit_json(members, "config.json", edit)
    return members


def _case_unknown_model(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(members, "config.json", lambda c: c["model"].update(class_name="MyModel"))
    return members


def _case_unknown_optimizer(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(
        members,
        "config.json",
        lambda c: c["compile"].update(optimizer={"class_name": "Evil", "config": {}}),
    )
    return members


def _case_unknown_loss(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(members, "config.json", lambda c: c["compile"].update(loss="os.system"))
    return members


def _case_npy_shape_vs_manifest(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["weights/00000.npy"] = _npy(np.zeros((3, 3), np.float32))
    return members


def _case_shape_vs_model(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["weights/00000.npy"] = _npy(np.zeros((4, 6), np.float32))
    _edit_json(members, "config.json", lambda c: c["weights"][0].update(shape=[4, 6]))
    return members


def _case_dtype_vs_model(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["weights/00000.npy"] = _npy(np.zeros((4, 5), np.float64))
    _edit_json(members, "config.json", lambda c: c["weights"][0].update(dtype="float64"))
    return members


def _case_object_dtype_in_manifest(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(members, "config.json", lambda c: c["weights"][0].update(dtype="object"))
    return members


def _case_weight_count(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    del members["weights/00003.npy"]
    _edit_json(members, "config.json", lambda c: c["weights"].pop())
    return members


def _case_not_npy(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["weights/00001.npy"] = b"PK\x03\x04 this is not an array"
    return members


def _case_trailing_bytes(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    members["weights/00001.npy"] += b"\x00" * 8
    return members


class _Sentinel:
    """Unpickling this object would create a folder: proof that code ran."""

    path = ""

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _case_pickled_object_array(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _Sentinel.path = str(valid.parent / "PWNED")
    arr = np.empty((4, 5), dtype=object)
    arr[...] = _Sentinel()
    members["weights/00000.npy"] = _npy(arr, allow_pickle=True)
    assert b"mkdir" in members["weights/00000.npy"]
    return members


def _case_raw_pickle(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _Sentinel.path = str(valid.parent / "PWNED")
    members["weights/00000.npy"] = pickle.dumps(_Sentinel())
    return members


def _case_optimizer_state_shape(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    config = json.loads(members["config.json"])
    i = next(i for i, e in enumerate(config["optimizer_state"]) if e["shape"] == [4, 5])
    members[f"optimizer/{i:05d}.npy"] = _npy(np.zeros((5, 4), np.float32))
    _edit_json(members, "config.json", lambda c: c["optimizer_state"][i].update(shape=[5, 4]))
    return members


def _case_bad_rng_state(valid: Path, members: dict[str, bytes]) -> dict[str, bytes]:
    _edit_json(members, "config.json", lambda c: c.update(rng_states=[{"layer": 0, "state": {}}]))
    return members


def _case_declared_huge(valid: Path, members: dict[str, bytes]) -> bytes:
    data = valid.read_bytes()
    return _set_declared_size(data, "weights/00000.npy", 0xFFFFFFF0)


def _case_declared_small(valid: Path, members: dict[str, bytes]) -> bytes:
    data = valid.read_bytes()
    return _set_declared_size(data, "weights/00000.npy", 16)


def _case_compression_bomb(valid: Path, members: dict[str, bytes]) -> bytes:
    n = 4 * 2**20  # 16 MiB of float32 zeros deflate about 1000:1
    members["weights/00000.npy"] = _npy(np.zeros(n, np.float32))
    _edit_json(members, "config.json", lambda c: c["weights"][0].update(shape=[n]))
    return _write_zip(valid, members, compress=zipfile.ZIP_DEFLATED).read_bytes()


def _case_over_total_size(valid: Path, members: dict[str, bytes]) -> bytes:
    # the archive's members sum to more than the (lowered) total limit
    return valid.read_bytes()


# name -> (builder, words that must appear in the error message, saving limits to set)
CORPUS: dict[str, tuple[Callable, list[str], dict[str, int]]] = {
    "not_zip": (_case_not_zip, ["not a zip", "truncated"], {}),
    "empty": (_case_empty, ["not a zip"], {}),
    "truncated": (_case_truncated, ["truncated"], {}),
    "last_bytes_cut": (_case_last_bytes_cut, ["truncated"], {}),
    "flipped_byte": (_case_flipped_byte, ["corrupt", "weights/00000.npy"], {}),
    "missing_config": (_case_missing_config, ["missing member", "config.json"], {}),
    "missing_metadata": (_case_missing_metadata, ["missing member", "metadata.json"], {}),
    "missing_weight": (
        _case_missing_weight,
        ["missing member", "weights/00001.npy", "/bias'"],
        {},
    ),
    "extra_weight": (_case_extra_member, ["unexpected member", "weights/00099.npy"], {}),
    "extra_script": (_case_extra_script, ["unexpected member", "run_me.py"], {}),
    "duplicate": (_case_duplicate, ["more than once", "config.json"], {}),
    "parent_traversal": (_traversal("../evil.npy"), ["unsafe", "../evil.npy"], {}),
    "deep_traversal": (_traversal("weights/../../evil.npy"), ["unsafe", "traversal"], {}),
    "absolute": (_traversal("/abs.npy"), ["unsafe", "absolute"], {}),
    "drive_letter": (_traversal("C:evil.npy"), ["unsafe", "absolute"], {}),
    "backslash": (_traversal("..\\evil.npy"), ["unsafe", "backslash"], {}),
    "bad_json": (_case_bad_json, ["config.json", "not valid JSON"], {}),
    "json_not_object": (_case_json_not_object, ["metadata.json", "JSON object", "list"], {}),
    "future_version": (_case_future_version, ["unknown format version 99", "newer"], {}),
    "wrong_format": (_case_wrong_format, ["format", "'keras'", "tinygrad_mlp"], {}),
    "lambda_layer": (_case_lambda_layer, ["Lambda", "never runs code"], {}),
    "unknown_layer": (
        _case_unknown_layer,
        ["unknown layer class 'TFOpLambda'", "Dense", "BatchNormalization"],
        {},
    ),
    "unknown_model": (_case_unknown_model, ["unknown model class 'MyModel'", "Sequential"], {}),
    "unknown_optimizer": (_case_unknown_optimizer, ["optimizer", "Evil"], {}),
    "unknown_loss": (_case_unknown_loss, ["loss", "os.system"], {}),
    "npy_shape_vs_manifest": (
        _case_npy_shape_vs_manifest,
        ["weights/00000.npy", "dense", "shape (3, 3)", "expected (4, 5)"],
        {},
    ),
    "shape_vs_model": (_case_shape_vs_model, ["kernel", "shape (4, 5)", "shape (4, 6)"], {}),
    "dtype_vs_model": (_case_dtype_vs_model, ["kernel", "float32", "float64"], {}),
    "object_dtype_in_manifest": (_case_object_dtype_in_manifest, ["dtype 'object'", "float32"], {}),
    # the layers may not allocate more than the archive stores: refused while building
    "weight_count": (_case_weight_count, ["stored weights", "does not match its arrays"], {}),
    "not_npy": (_case_not_npy, ["weights/00001.npy", "not a valid .npy"], {}),
    "trailing_bytes": (_case_trailing_bytes, ["trailing"], {}),
    "pickled_object_array": (_case_pickled_object_array, ["object array", "pickle"], {}),
    "raw_pickle": (_case_raw_pickle, ["weights/00000.npy", "not a valid .npy"], {}),
    "optimizer_state_shape": (
        _case_optimizer_state_shape,
        ["optimizer state", "(5, 4)", "(4, 5)"],
        {},
    ),
    "bad_rng_state": (_case_bad_rng_state, ["rng_states", "random generator"], {}),
    "declared_huge": (_case_declared_huge, ["weights/00000.npy", "size limit", "zip bomb"], {}),
    "declared_small": (_case_declared_small, ["weights/00000.npy", "corrupt"], {}),
    "compression_bomb": (_case_compression_bomb, ["compression ratio", "zip bomb"], {}),
    "member_over_limit": (
        _case_over_total_size,
        ["size limit", "zip bomb"],
        {"MAX_MEMBER_SIZE": 50},
    ),
    "total_over_limit": (
        _case_over_total_size,
        ["total uncompressed size", "zip bomb"],
        {"MAX_TOTAL_SIZE": 600},
    ),
    "too_many_members": (_case_over_total_size, ["members", "limit"], {"MAX_MEMBERS": 3}),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_malformed_archive_is_refused_clearly(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, words, limits = CORPUS[case]
    work = tmp_path / "work"
    work.mkdir()
    valid = work / "valid.tgm"
    model = _small_model()
    model.train_on_batch(*_data(8))  # so the optimizer has momentum slots to save
    model.save(valid)
    assert [w.data.shape for w in load_model(valid).weights] == [(4, 5), (5,), (5, 1), (1,)]
    result = build(valid, _members(valid))
    bad = work / "bad.tgm"
    bad.write_bytes(result if isinstance(result, bytes) else _forged(bad, result))

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for name, value in limits.items():
        monkeypatch.setattr(saving, name, value)
    listing = sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(tmp_path))
    with pytest.raises(ValueError) as info:
        load_model(bad)
    message = str(info.value)
    assert "bad.tgm" in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    # nothing was extracted or executed anywhere
    assert (sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(tmp_path))) == listing
    assert os.listdir(cwd) == []
    assert sorted(os.listdir(work)) == ["bad.tgm", "valid.tgm"]
    assert not os.path.exists("/abs.npy")


def test_missing_file_and_directory_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file not found"):
        load_model(tmp_path / "nope.tgm")
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path)


def test_folder_entries_from_zip_tools_are_accepted(tmp_path: Path) -> None:
    model = _small_model()
    model.save(tmp_path / "m.tgm")
    members = _members(tmp_path / "m.tgm")
    rezipped = {"weights/": b"", "optimizer/": b"", **members}
    _write_zip(tmp_path / "rezipped.tgm", rezipped, compress=zipfile.ZIP_DEFLATED)
    loaded = load_model(tmp_path / "rezipped.tgm")
    _assert_same_weights(model, loaded)
