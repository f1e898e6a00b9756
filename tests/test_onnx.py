"""ONNX export: onnx.checker accepts the graph and onnxruntime predicts what ``predict`` does."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is in the 'test' extra")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is in the 'test' extra")

import tinygrad_mlp as tm  # noqa: E402
from tinygrad_mlp import layers as L  # noqa: E402

RNG = np.random.default_rng(2)
X = RNG.standard_normal((16, 6)).astype("float32")
X2 = RNG.standard_normal((16, 6)).astype("float32")


def served(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds, strict=True)))


def check(model, tmp_path, *xs):
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", verbose=False)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    ours = model.predict(list(xs) if len(xs) > 1 else xs[0], verbose=0)
    theirs = served(path, xs)
    for a, b in zip(ours if isinstance(ours, list) else [ours], theirs, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "elu", "selu",
               "softplus", "exponential", "leaky_relu", "relu6", "hard_sigmoid", "swish",
               "silu", "mish", "gelu"]  # fmt: skip


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation(activation, tmp_path):
    model = tm.Sequential(
        [tm.Input((6,)), L.Dense(5, activation=activation, bias_initializer="ones")]
    )
    check(model, tmp_path, X)


def trained_batchnorm():
    layer = L.BatchNormalization(momentum=0.5)
    layer.build((None, 4))
    for _ in range(3):
        layer(RNG.standard_normal((32, 4)).astype("float32") * 3 + 1, training=True)
    return layer


LAYERS = {
    "Dropout": lambda: L.Dropout(0.5),
    "GaussianNoise": lambda: L.GaussianNoise(0.3),
    "GaussianDropout": lambda: L.GaussianDropout(0.3),
    "Identity": lambda: L.Identity(),
    "Activation": lambda: L.Activation("tanh"),
    "BatchNormalization": trained_batchnorm,
    "LayerNormalization": lambda: L.LayerNormalization(gamma_initializer="random_uniform"),
    "Normalization": lambda: L.Normalization(mean=[1.0, 0.0, -1.0, 2.0], variance=[4, 1, 0.25, 9]),
    "Normalization(invert)": lambda: L.Normalization(
        mean=[1, 0, -1, 2], variance=[4, 1, 1, 9], invert=True
    ),  # fmt: skip
    "Flatten": lambda: L.Flatten(),
    "Reshape": lambda: L.Reshape((2, 2)),
    "Rescaling": lambda: L.Rescaling(0.5, offset=-1.0),
    "ReLU": lambda: L.ReLU(),
    "ReLU(options)": lambda: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2),
    "LeakyReLU": lambda: L.LeakyReLU(negative_slope=0.1),
    "PReLU": lambda: L.PReLU(alpha_initializer="random_uniform"),
    "ELU": lambda: L.ELU(alpha=0.7),
    "Softmax": lambda: L.Softmax(),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer(name, tmp_path):
    model = tm.Sequential([tm.Input((6,)), L.Dense(4), LAYERS[name](), L.Flatten(), L.Dense(3)])
    check(model, tmp_path, X)


def test_embedding(tmp_path):
    model = tm.Sequential([tm.Input((5,)), L.Embedding(10, 3), L.Flatten(), L.Dense(2)])
    check(model, tmp_path, RNG.integers(0, 10, (16, 5)).astype("float32"))


@pytest.mark.parametrize(
    "merge", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]
)
def test_functional_merges_and_a_nested_model(merge, tmp_path):
    a, b = tm.Input((6,), name="a"), tm.Input((6,), name="b")
    inner = tm.Sequential([L.Dense(6, activation="relu")], name="inner")
    m = getattr(L, merge)()([L.Dense(6)(a), inner(b)])
    model = tm.Model([a, b], [L.Dense(1, activation="sigmoid")(m), L.Dense(2)(m)])
    check(model, tmp_path, X, X2)


def test_the_course_mlp_after_training(tmp_path):
    x, y = tm.datasets.circle(n=200, seed=0)
    model = tm.Sequential([tm.Input((2,)), L.Dense(16, activation="tanh"),
                           L.Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=5, verbose=0)
    check(model, tmp_path, np.asarray(x, "float32"))


def test_what_cannot_be_exported_says_why(tmp_path):
    with pytest.raises(ValueError, match="format='onnx'"):
        tm.Sequential([tm.Input((2,)), L.Dense(1)]).export(tmp_path / "m", format="tf_saved_model")
    with pytest.raises(ValueError, match="Lambda"):
        tm.Sequential([tm.Input((2,)), L.Lambda(lambda v: v * 2)]).export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_the_serving_example_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "10_onnx_serving.py"
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                            text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "onnxruntime" in result.stdout and (tmp_path / "circle.onnx").exists()
    gap = float(result.stdout.strip().rsplit(" ", 1)[-1])
    assert gap < 1e-5
