"""Training pictures: files are valid PNGs, bad input is named, the scale logic holds."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from tinygrad_mlp.layers import Dense  # noqa: E402
from tinygrad_mlp.models import Sequential  # noqa: E402
from tinygrad_mlp.plotting import (  # noqa: E402
    plot_decision_boundary,
    plot_feature_importance,
    plot_history,
    plot_learning_rates,
)

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG and len(data) > 1000


def test_history_has_one_panel_per_quantity_with_validation_curves(tmp_path):
    history = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.5, 0.7, 0.9], "val_loss": [1.1, 0.6, 0.4]}
    fig = plot_history(history, to_file=tmp_path / "h.png")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["loss", "accuracy"]
    assert len(visible[0].get_lines()) == 2  # training and validation loss
    assert len(visible[1].get_lines()) == 1
    assert is_png(tmp_path / "h.png")


def test_history_from_fit_and_bad_histories(tmp_path):
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["binary_accuracy"])
    x = np.random.default_rng(0).normal(size=(40, 2))
    h = model.fit(x, (x[:, 0] > 0).astype(int), epochs=2, validation_split=0.25, verbose=0)
    plot_history(h, to_file=tmp_path / "fit.png")
    assert is_png(tmp_path / "fit.png")
    later = model.fit(x, (x[:, 0] > 0).astype(int), epochs=5, initial_epoch=3, verbose=0)
    fig = plot_history(later, to_file=None)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [4, 5]  # epochs are numbered from 1
    with pytest.raises(ValueError, match="empty"):
        plot_history({"loss": []}, to_file=None)
    with pytest.raises(TypeError, match="History"):
        plot_history([0.1, 0.2], to_file=None)
    with pytest.raises(ValueError, match="unknown quantity 'auc'"):
        plot_history(h, to_file=None, metrics=["auc"])


def test_learning_rate_panels_share_a_scale_that_a_diverging_run_cannot_flatten(tmp_path):
    runs = {
        "too low": {"loss": [0.70, 0.69, 0.68]},
        "too high": {"loss": [0.8, 5.0, 40.0]},
        "adequate": {"loss": [0.71, 0.3, 0.1]},
    }
    fig = plot_learning_rates(runs, to_file=tmp_path / "lr.png")
    bottom, top = fig.axes[0].get_ylim()
    assert bottom == 0.0 and top == pytest.approx(2 * 0.70)  # twice the smallest start
    labels = [t.get_text() for t in fig.axes[1].texts]
    assert labels == ["off the scale: up to 40"]
    assert not fig.axes[0].texts and not fig.axes[2].texts
    assert is_png(tmp_path / "lr.png")
    with pytest.raises(ValueError, match="no 'loss' curve"):
        plot_learning_rates({"run": {"accuracy": [1.0]}}, to_file=None)


def test_decision_boundary_for_two_and_several_classes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(60, 2))
    binary = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    ax = plot_decision_boundary(binary, x, x[:, 0] > 0, to_file=tmp_path / "b.png", resolution=30)
    assert ax.get_title() == "decision boundary"
    assert is_png(tmp_path / "b.png")
    three = Sequential([Dense(3, input_dim=2, activation="softmax")])
    plot_decision_boundary(three, x, rng.integers(0, 3, 60), to_file=tmp_path / "m.png")
    assert is_png(tmp_path / "m.png")
    with pytest.raises(ValueError, match=r"shape \(n, 2\), received shape \(60, 3\)"):
        plot_decision_boundary(binary, np.zeros((60, 3)), np.zeros(60), to_file=None)
    with pytest.raises(ValueError, match="60 points but y has 59"):
        plot_decision_boundary(binary, x, np.zeros(59), to_file=None)


def test_feature_importance_bars_are_sorted_with_the_largest_on_top(tmp_path):
    fig = plot_feature_importance([0.1, -0.5, 0.3], ["a", "b", "c"], to_file=tmp_path / "f.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "c", "b"]
    assert is_png(tmp_path / "f.png")
    with pytest.raises(ValueError, match="2 feature names for 3 importances"):
        plot_feature_importance([1, 2, 3], ["a", "b"], to_file=None)
    with pytest.raises(ValueError, match="1-D"):
        plot_feature_importance(np.zeros((2, 2)), to_file=None)


def test_plot_activations_draws_each_function_and_the_engines_derivative(tmp_path):
    from tinygrad_mlp.plotting import plot_activations

    fig = plot_activations(["sigmoid", "tanh"], to_file=tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    z, g = fig.axes[0].lines[0].get_data()
    _, slope = fig.axes[0].lines[1].get_data()
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(slope, g * (1 - g), atol=1e-12)  # sigma' = sigma (1 - sigma)
    _, t_slope = fig.axes[1].lines[1].get_data()
    np.testing.assert_allclose(t_slope, 1 - np.tanh(z) ** 2, atol=1e-12)


def test_plot_confusion_matrix_writes_every_count(tmp_path):
    from tinygrad_mlp.plotting import plot_confusion_matrix

    fig = plot_confusion_matrix(
        np.array([[5, 1], [2, 7]]), ["no", "yes"], to_file=tmp_path / "c.png"
    )
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1", "2", "5", "7"]
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.ones((2, 3)), to_file=None)


def test_plot_gradient_norms_and_history_marks(tmp_path):
    from tinygrad_mlp.plotting import plot_gradient_norms, plot_history

    fig = plot_gradient_norms({"sigmoid": [1e-8, 1e-4, 1e-2]}, to_file=tmp_path / "g.png")
    assert fig.axes[0].get_yscale() == "log"
    fig = plot_history(
        {"loss": [3.0, 2.0, 1.5, 1.6], "val_loss": [3.1, 2.2, 1.7, 1.9]},
        to_file=None,
        marks={"stopped": 4, "best, restored": 3},
    )
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert "stopped (epoch 4)" in labels and "best, restored (epoch 3)" in labels
    assert not list(tmp_path.glob("history*.png"))  # to_file=None writes nothing
