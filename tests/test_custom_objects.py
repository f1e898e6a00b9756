"""Users' own layers in files: registered with register_keras_serializable, or custom_objects."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tm
from tinygrad_mlp.layers import Dense, Layer
from tinygrad_mlp.saving import get_registered_name, register_keras_serializable

X = np.random.default_rng(0).standard_normal((8, 3)).astype("float32")


@register_keras_serializable(package="course")
class Scale(Layer):
    """Multiplies by a fixed factor (a user's layer with its own setting)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Unregistered(Scale):
    pass


def model_with(layer_cls):
    model = tm.Sequential([tm.Input((3,)), Dense(4, name="d"), layer_cls(3.0, name="scale"),
                           Dense(1, name="out")])  # fmt: skip
    model.compile("sgd", "mse")
    return model


@pytest.mark.parametrize("extension", [".tgm", ".keras", ".h5"])
def test_a_registered_layer_loads_without_custom_objects(extension, tmp_path):
    if extension != ".tgm":
        pytest.importorskip("h5py", reason="h5py is in the 'test' extra")
    model = model_with(Scale)
    assert get_registered_name(Scale) == "course>Scale"
    model.save(tmp_path / f"m{extension}")
    again = tm.models.load_model(tmp_path / f"m{extension}")
    assert isinstance(again.layers[1], Scale) and again.layers[1].factor == 3.0
    np.testing.assert_array_equal(again.predict(X, verbose=0), model.predict(X, verbose=0))


def test_an_unregistered_layer_needs_custom_objects(tmp_path):
    model_with(Unregistered).save(tmp_path / "m.tgm")
    with pytest.raises(ValueError, match="unknown layer class 'Unregistered'"):
        tm.models.load_model(tmp_path / "m.tgm")
    again = tm.models.load_model(tmp_path / "m.tgm", custom_objects={"Unregistered": Unregistered})
    assert type(again.layers[1]) is Unregistered


def test_registration_refuses_clashes_and_classes_without_config():
    with pytest.raises(ValueError, match="already been registered"):
        register_keras_serializable(package="course", name="Scale")(Unregistered)

    class NoConfig:
        pass

    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable(package="course")(NoConfig)
