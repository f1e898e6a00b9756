"""The functional API on its own: graphs, saving, pictures and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tm
from tinygrad_mlp.layers import Add, Concatenate, Dense, Dropout, Lambda, Layer, Subtract

RNG = np.random.default_rng(3)
X1 = RNG.standard_normal((24, 3)).astype("float32")
X2 = RNG.standard_normal((24, 2)).astype("float32")
Y1 = (X1[:, :1] > 0).astype("float32")
Y2 = RNG.standard_normal((24, 2)).astype("float32")


def two_output():
    a, b = tm.Input((3,), name="a"), tm.Input((2,), name="b")
    h = Dense(4, activation="relu", name="hidden")(Concatenate(name="join")([a, b]))
    inner = tm.Sequential([Dense(3, activation="tanh", name="i1")], name="inner")
    out1 = Dense(1, activation="sigmoid", name="out1")(inner(h))
    out2 = Add(name="sum")([Dense(2, name="p")(h), Dense(2, name="q")(h)])
    model = tm.Model({"a": a, "b": b}, {"out1": out1, "sum": out2}, name="two")
    model.compile("adam", loss={"out1": "binary_crossentropy", "sum": "mse"},
                  metrics={"out1": ["accuracy"]})  # fmt: skip
    return model


def test_functional_model_saves_loads_and_resumes_identically(tmp_path):
    model = two_output()
    x, y = {"a": X1, "b": X2}, {"out1": Y1, "sum": Y2}
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "two.tgm")
    again = tm.models.load_model(tmp_path / "two.tgm")
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    for key, value in model.predict(x, verbose=0).items():
        np.testing.assert_array_equal(again.predict(x, verbose=0)[key], value)
    h1 = model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = again.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert h1.history == h2.history
    assert sorted(h1.history) == ["loss", "out1_accuracy", "out1_loss", "sum_loss"]


def test_plot_model_draws_the_graph():
    model = two_output()
    graph = tm.utils.plot_model(model, to_file=None, show_shapes=True)
    source = graph.source
    # a, b -> concatenate -> hidden -> inner, p, q; inner -> out1; p, q -> sum
    assert source.count("->") == 9
    for label in ("a (InputLayer)", "join (Concatenate)", "inner (Sequential)",
                  "sum (Add)", "(None, 3), (None, 2)"):  # fmt: skip
        assert label in source


def test_summary_names_the_links_of_a_branching_graph():
    lines = []
    two_output().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "hidden[0][0]" in text and "p[0][0], q[0][0]" in text


def test_a_custom_layer_gets_its_output_shape_from_its_call():
    class Halves(Layer):
        def call(self, x):
            return x[:, :2] * 0.5

    out = Halves()(tm.Input((6,)))
    assert out.shape == (None, 2)


def test_graph_disconnected_and_bad_inputs_are_clear_errors():
    a, b = tm.Input((3,), name="ga"), tm.Input((3,), name="gb")
    out = Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        tm.Model(a, out)
    with pytest.raises(ValueError, match="symbolic tensors"):
        tm.Model(np.ones((2, 3)), out)
    with pytest.raises(ValueError, match="exactly 2"):
        Subtract()([a, b, a])
    with pytest.raises(ValueError, match="matching shapes"):
        Concatenate(axis=-1)([tm.Input((2, 3)), tm.Input((4, 3))])
    with pytest.raises(TypeError, match="mix of symbolic"):
        Add()([a, np.ones((1, 3))])


def test_bad_data_for_a_functional_model_changes_nothing():
    model = two_output()
    before = model.get_weights()
    with pytest.raises(ValueError, match="missing"):
        model.fit({"a": X1}, {"out1": Y1, "sum": Y2}, verbose=0)
    with pytest.raises(ValueError, match="last dimension"):
        model.fit({"a": X1, "b": X1}, {"out1": Y1, "sum": Y2}, verbose=0)
    with pytest.raises(ValueError, match="keys"):
        model.fit({"a": X1, "b": X2}, {"out1": Y1, "other": Y2}, verbose=0)
    with pytest.raises(ValueError, match="cardinality"):
        model.fit({"a": X1, "b": X2[:5]}, {"out1": Y1, "sum": Y2}, verbose=0)
    with pytest.raises(ValueError, match="not supported when x is a generator"):
        model.fit(iter([]), Y1, verbose=0)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_compile_checks_per_output_arguments():
    model = two_output()
    with pytest.raises(ValueError, match="not output names"):
        model.compile("sgd", loss={"nope": "mse"})
        model.fit({"a": X1, "b": X2}, {"out1": Y1, "sum": Y2}, verbose=0)
    with pytest.raises(ValueError, match="as many entries as the model has outputs"):
        model.compile("sgd", loss="mse", metrics=["mae"])
        model.evaluate({"a": X1, "b": X2}, {"out1": Y1, "sum": Y2}, verbose=0)
    with pytest.raises(ValueError, match="finite numbers >= 0"):
        model.compile("sgd", loss="mse", loss_weights={"out1": -1.0, "sum": 1.0})


def test_lambda_runs_but_is_never_loaded_from_a_file(tmp_path):
    inp = tm.Input((3,))
    model = tm.Model(inp, Dense(1)(Lambda(lambda x: x * 2.0, name="double")(inp)))
    np.testing.assert_allclose(model.predict(X1, verbose=0).shape, (24, 1))
    model.save(tmp_path / "lam.tgm")
    with pytest.raises(ValueError, match="Lambda"):
        tm.models.load_model(tmp_path / "lam.tgm")


def test_generator_that_runs_out_stops_training_with_keras_warning():
    model = tm.Sequential([tm.Input((3,)), Dense(1)])
    model.compile("sgd", "mse")
    batches = ((X1[i : i + 8], Y1[i : i + 8]) for i in range(0, 24, 8))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(batches, epochs=5, verbose=0)
    assert len(history.history["loss"]) == 1  # the first epoch took all three batches


def test_dropout_inside_a_functional_graph_follows_training():
    inp = tm.Input((50,))
    model = tm.Model(inp, Dropout(0.5, seed=0)(inp))
    x = np.ones((2, 50), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    assert (model(x, training=True).data == 0).any()


def test_the_models_page_runs_as_written(capsys):
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "models.md"
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)\n```", page.read_text(), flags=re.S):
        exec(compile(block, str(page), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "['inside_accuracy', 'inside_loss', 'loss', 'radius_loss']" in printed
    assert "Connected to" in printed and "(200, 8)" in printed
    assert len(namespace["classifier"].weights) == 4
