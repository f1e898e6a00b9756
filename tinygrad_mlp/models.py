"""Keras 3's models on the ``Value`` engine: ``Model``, the functional API, ``Sequential``.

Three ways to make a model, as in Keras:

* ``Sequential([Dense(8, activation="tanh"), Dense(1, activation="sigmoid")])``:
  a stack of layers, each taking the previous one's output;
* the functional API: call layers on symbolic tensors from ``Input`` and give
  the ends to ``Model``, for several inputs or outputs, branches and shared
  layers::

      a, b = Input((3,), name="a"), Input((2,), name="b")
      h = Dense(8, activation="relu")(Concatenate()([a, b]))
      model = Model([a, b], [Dense(1, activation="sigmoid")(h), Dense(2)(h)])

* subclassing: ``class MyModel(Model)`` with its layers set in ``__init__`` and
  the forward pass in ``call(self, x, training=None)``.

All three are ``Layer``s (a model can be a layer of another) and share the
training loop of ``trainer.Trainer``; the summary table lives in ``summary``.
The course's classic ``Perceptron`` is here too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import layers as layers_module
from tinygrad_mlp.engine import _const, no_grad
from tinygrad_mlp.layers import Dense, InputLayer, Layer, _batchless, _snake_case, unique_name
from tinygrad_mlp.symbolic import KerasTensor, Node, flatten, pack_like
from tinygrad_mlp.trainer import Trainer, _as_float_array

__all__ = [
    "Model",
    "Functional",
    "Sequential",
    "Perceptron",
    "load_model",
    "model_from_config",
    "model_from_json",
    "clone_model",
]

Shape = tuple[int | None, ...]


def load_model(
    path: Any,
    custom_objects: dict | None = None,
    compile: bool = True,
    safe_mode: bool = True,
    allow_nonfinite: bool = False,
) -> Model:
    """Load a model written by ``model.save(path)`` or by Keras 3 (``.keras``); see
    ``tinygrad_mlp.saving``. Loading never runs code, whatever the file says."""
    from tinygrad_mlp.saving import load_model as _load

    if isinstance(custom_objects, bool):  # the old positional compile argument
        custom_objects, compile = None, custom_objects
    return _load(path, compile=compile, custom_objects=custom_objects, safe_mode=safe_mode,
                 allow_nonfinite=allow_nonfinite)  # fmt: skip


def model_from_config(config: dict[str, Any], custom_objects: dict | None = None) -> Model:
    """Rebuild a model from ``{'class_name': 'Sequential' | 'Functional', 'config': ...}``."""
    if not isinstance(config, dict):
        raise ValueError(f"a model config must be a dict, received {type(config).__name__}")
    name = config.get("class_name", "Sequential")
    known = {"Sequential": Sequential, "Functional": Functional, "Model": Functional}
    if name not in known:
        raise ValueError(
            f"Unknown model class {name!r}; known: Sequential, Functional (a subclassed model "
            "is rebuilt by its own code: make it, then load_weights)"
        )
    return known[name].from_config(config.get("config", config), custom_objects)


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    """Rebuild a model (fresh weights) from ``model.to_json()``."""
    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json needs the JSON text of model.to_json(): {e}") from None
    return model_from_config(config, custom_objects)


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: Callable[[Layer], Layer] | None = None,
) -> Model:
    """A new model of the same architecture with newly initialized weights (Keras').

    ``clone_function(layer)`` makes each new layer (default: from the layer's config).
    """
    if not isinstance(model, Model):
        raise ValueError(f"clone_model expects a Model, received {type(model).__name__}")
    clone = clone_function or (lambda layer: type(layer).from_config(layer.get_config()))
    if isinstance(model, Sequential):
        new = Sequential(name=model.name)
        if model._input_layer is not None:
            new.add(InputLayer(batch_input_shape=model._input_layer._batch_input_shape))
        for layer in model.layers:
            new.add(clone_model(layer, clone_function=clone_function)
                    if isinstance(layer, Model) else clone(layer))  # fmt: skip
        if model.built and not new.built:
            new.build(model.input_shape)
        return new
    if isinstance(model, Functional):
        if input_tensors is not None:
            raise ValueError("clone_model(input_tensors=...) is not supported; clone, then call")
        return model._rebuild(
            lambda layer: (
                clone_model(layer, clone_function=clone_function)
                if isinstance(layer, Model)
                else clone(layer)
            )
        )
    raise ValueError(
        f"clone_model of the subclassed model {type(model).__name__!r}: its architecture is its "
        "Python code, so make a new instance instead"
    )


class Model(Trainer, Layer):
    """A trainable graph of layers: ``Model(inputs, outputs)`` (functional) or a subclass.

    ``Model(inputs, outputs, name=None)`` returns a ``Functional`` model. A
    subclass sets its layers as attributes in ``__init__`` and defines
    ``call(self, inputs, training=None)``; its weights exist after the first call
    (or ``build(input_shape)``).
    """

    _is_model = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError(
                f"{type(self).__name__}() takes keyword arguments only (name=, trainable=); "
                "Model(inputs, outputs) makes a functional model"
            )
        name = kwargs.pop("name", None)
        Layer.__init__(
            self,
            name=name if name is not None else unique_name(_snake_case(type(self).__name__)),
            **kwargs,
        )
        self._output_shapes_seen: list[Shape] | None = None

    # -- structure -------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        return self._sublayers()

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called ``name`` (or at position ``index`` of ``layers``)."""
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index, not both")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"{what}: model {self.name!r} has not been built yet, so its weights do not "
                "exist. Give the first layer an input shape (Dense(..., input_dim=n)), call "
                "model.build((None, n)), or call fit() first."
            )

    def _rows_independent(self) -> bool:
        """True when, in inference, each output row depends on its input row alone: every
        layer is one of this library's (a user's layer or a Lambda may mix rows)."""
        if type(self) not in (Sequential, Functional):
            return False
        for layer in self._sublayers():
            if isinstance(layer, Model):
                if not layer._rows_independent():
                    return False
            elif type(layer).__module__ != layers_module.__name__ or isinstance(
                layer, layers_module.Lambda
            ):
                return False
        return True

    def count_params(self) -> int:
        """The number of scalars in all weights."""
        self._require_built("count_params")
        return int(sum(w.data.size for w in self.weights))

    # -- a subclassed model ---------------------------------------------------------

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        raise NotImplementedError(
            f"The model {type(self).__name__!r} has no call(): a subclass of Model defines "
            "call(self, inputs, training=None), or use Model(inputs, outputs)"
        )

    def build(self, input_shape: Any = None) -> None:
        """Create the weights by running ``call`` once on zeros of ``input_shape``."""
        if input_shape is None:
            raise ValueError(
                "You must provide an input_shape argument to build() (e.g. model.build((None, 10)))"
            )
        shape = _batchless(input_shape)
        dummy = layers_module._map_shapes(
            lambda s: _const(np.zeros([1 if d is None else d for d in s], self.dtype)), shape
        )
        with no_grad():
            out = self._run_call(dummy, (), False, {})
        self._output_shapes_seen = [(None,) + tuple(v.shape[1:]) for v in flatten(out)]
        self._build_shape = shape
        self.built = True

    def _build_from_data(self, xs: list[np.ndarray]) -> None:
        self.build((None,) + xs[0].shape[1:])

    def _input_specs(self) -> tuple[list[str], list[Any], list[Any]]:
        shape = self._build_shape if self.built else None
        return ["input"], [shape], [self.dtype]

    def _outputs_known(self) -> bool:
        return self.built and self._output_shapes_seen is not None

    def _output_names(self) -> list[str]:
        if not self._outputs_known():
            self._require_built("the model's outputs")
        count = len(self._output_shapes_seen)
        return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]

    def _output_shapes(self) -> list[Shape]:
        return list(self._output_shapes_seen)

    def _output_dtypes(self) -> list[Any]:
        return [self.dtype] * len(self._output_shapes_seen)

    def _output_activation(self, index: int) -> Any:
        return None  # a subclass' outputs are whatever its call returns

    def _forward(self, inputs: list[Any], training: bool, fused: Any) -> list[Any]:
        return flatten(self(inputs[0], training=training))

    def _pack_outputs(self, outputs: list[np.ndarray]) -> Any:
        return outputs[0] if len(outputs) == 1 else outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shapes_seen is None or _batchless(input_shape) != self._build_shape:
            return super().compute_output_shape(input_shape)
        shapes = self._output_shapes_seen
        return shapes[0] if len(shapes) == 1 else list(shapes)

    # -- description, config, saving -------------------------------------------------

    def summary(
        self,
        line_length: int | None = None,
        positions: Sequence[float] | None = None,
        print_fn: Callable[[str], Any] | None = None,
        expand_nested: bool = False,
        show_trainable: bool = False,
    ) -> None:
        """Print Keras 3's table: each layer (type), its output shape and parameters, links
        between layers for a functional graph with branches, then the totals (and the
        optimizer's variables once it has stepped)."""
        from tinygrad_mlp.summary import print_summary

        print_summary(self, line_length, positions, print_fn, expand_nested, show_trainable)

    def _summary_layers(self) -> tuple[list[Layer], bool]:
        return self.layers, False

    def _summary_nodes(self) -> list[Node]:
        return []

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"The subclassed model {type(self).__name__!r} has no get_config(); define "
            "get_config/from_config to save its architecture, or save only its weights"
        )

    def to_json(self, **kwargs: Any) -> str:
        """The architecture (no weights) as JSON, for ``models.model_from_json``."""
        return json.dumps(
            {
                "module": "tinygrad_mlp.models",
                "class_name": type(self).__name__,
                "config": self.get_config(),
            },  # fmt: skip
            **kwargs,
        )

    def save(self, filepath: Any, overwrite: bool = True) -> None:
        """Save architecture, weights and optimizer state: ``.keras`` writes Keras 3's format
        (Keras loads it), ``.tgm`` this library's archive; another extension is an error."""
        from tinygrad_mlp.saving import save_any

        save_any(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save only the weights: ``.weights.h5`` in Keras 3's layout, or ``.tgm``."""
        from tinygrad_mlp.saving import save_weights_any

        save_weights_any(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any) -> None:
        """Load weights saved by ``save_weights`` or ``save`` into this (built) model."""
        from tinygrad_mlp.saving import load_weights

        load_weights(self, filepath)

    def export(
        self, filepath: Any, format: str = "onnx", verbose: bool = True, **kwargs: Any
    ) -> None:
        """Keras 3's ``export``: ``format="onnx"`` writes an ONNX graph (``onnx_export``) that
        onnxruntime and other runtimes serve; ``opset=`` picks the operator set (17)."""
        if format != "onnx":
            raise ValueError(
                f"Unrecognized format={format!r}: this library exports format='onnx' (Keras' "
                "'tf_saved_model' and 'openvino' need TensorFlow or OpenVINO)"
            )
        from tinygrad_mlp.onnx_export import OPSET, export_onnx

        export_onnx(self, filepath, opset=kwargs.pop("opset", OPSET))
        if kwargs:
            raise TypeError(f"export() got unexpected keyword argument(s) {sorted(kwargs)}")
        if verbose:
            print(f"Saved artifact at '{os.fspath(filepath)}'.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    def __reduce__(self) -> tuple:
        """Pickling (and ``copy.deepcopy``, process pools, Dask) goes through the safe
        ``.tgm`` archive: architecture, weights and optimizer state, never live graphs."""
        from tinygrad_mlp.saving import model_to_bytes

        if type(self) not in (Sequential, Functional):
            raise TypeError(
                f"cannot pickle the subclassed model {type(self).__name__!r}: its architecture "
                "is Python code; pickle its weights (get_weights()) and rebuild it"
            )
        return (_model_from_bytes, (model_to_bytes(self),))


def _model_from_bytes(data: bytes) -> Model:
    from tinygrad_mlp.saving import model_from_bytes

    return model_from_bytes(data)


class Functional(Model):
    """A model defined by its symbolic inputs and outputs (``Model(inputs, outputs)``)."""

    def __init__(
        self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        Model.__init__(self, name=name if name is not None else unique_name("functional"),
                       trainable=trainable, **kwargs)  # fmt: skip
        flat_in, flat_out = flatten(inputs), flatten(outputs)
        for what, tensors in (("inputs", flat_in), ("outputs", flat_out)):
            for t in tensors:
                if not isinstance(t, KerasTensor):
                    raise ValueError(
                        f"All {what} of a functional Model must be symbolic tensors (from "
                        f"Input() and from calling layers on them), received {type(t).__name__}"
                    )
        for t in flat_in:
            if not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(
                    f"The inputs of a functional Model must come from Input(); {t.name!r} is "
                    f"the output of layer {t._keras_history[0].name!r}"
                )
        if not flat_out:
            raise ValueError("a functional Model needs at least one output")
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs: list[KerasTensor] = flat_in
        self.outputs: list[KerasTensor] = flat_out
        self._nodes = _map_graph(flat_in, flat_out)
        self._graph_layers: list[Layer] = []
        for node in self._nodes:
            if all(node.layer is not x for x in self._graph_layers):
                self._graph_layers.append(node.layer)
        self._input_names = (
            sorted(inputs) if isinstance(inputs, dict)
            else [t._keras_history[0].name for t in flat_in]
        )  # fmt: skip
        self._output_names_list = (
            sorted(outputs) if isinstance(outputs, dict)
            else [t._keras_history[0].name for t in flat_out]
        )  # fmt: skip
        consumed = {id(t) for node in self._nodes for t in node.input_tensors}
        self._fusable = [id(t) not in consumed for t in flat_out]
        self._output_nodes = [
            t._keras_history[0]._inbound_nodes[t._keras_history[1]] for t in flat_out
        ]
        # the run plan: per node (node, layer, input id or None, output id or None, kwargs);
        # a single tensor in and out (the usual case) needs no packing at call time
        self._input_ids = [id(t) for t in flat_in]
        self._output_ids = [id(t) for t in flat_out]
        self._run_plan = [
            (node, node.layer,
             id(node.arguments) if isinstance(node.arguments, KerasTensor) else None,
             id(node.outputs) if isinstance(node.outputs, KerasTensor) else None,
             node.kwargs)
            for node in self._nodes if not isinstance(node.layer, InputLayer)
        ]  # fmt: skip
        shapes = [t.shape for t in flat_in]
        self._build_shape = shapes[0] if len(shapes) == 1 else shapes
        self._output_shapes_seen = [t.shape for t in flat_out]
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        """Every layer of the graph (the InputLayers first), each once."""
        return list(self._graph_layers)

    def _sublayers(self) -> list[Layer]:
        return [layer for layer in self._graph_layers if not isinstance(layer, InputLayer)]

    @property
    def input(self) -> Any:
        return self._inputs_struct

    @property
    def output(self) -> Any:
        return self._outputs_struct

    @property
    def input_shape(self) -> Any:
        return self._build_shape

    @property
    def output_shape(self) -> Any:
        shapes = self._output_shapes_seen
        return shapes[0] if len(shapes) == 1 else list(shapes)

    def build(self, input_shape: Any = None) -> None:
        return None  # a functional model is built by construction

    # -- running the graph -------------------------------------------------------------

    def _run_graph(self, values: list[Any], training: Any, fused: Any = ()) -> list[Any]:
        known = dict(zip(self._input_ids, values, strict=True))
        fused_nodes = {id(self._output_nodes[i]) for i in fused} if fused else ()
        for node, layer, in_id, out_id, kwargs in self._run_plan:
            if in_id is not None:
                args = known[in_id]
            else:
                args = pack_like(node.arguments, [known[id(t)] for t in flatten(node.arguments)])
            if fused_nodes and id(node) in fused_nodes:  # the output before its activation
                layer._check_input_shape(args.shape)
                out = layer.call_linear(args)
            elif kwargs:
                out = layer(args, **kwargs) if "training" in kwargs or training is None else (
                    layer(args, training=training, **kwargs))  # fmt: skip
            else:
                out = layer(args, training=training)
            if out_id is not None:
                known[out_id] = out
            else:
                for t, v in zip(node.output_tensors, flatten(out), strict=True):
                    known[id(t)] = v
        return [known[i] for i in self._output_ids]

    def _flat_inputs(self, inputs: Any) -> list[Any]:
        if isinstance(inputs, dict):
            missing = [n for n in self._input_names if n not in inputs]
            if missing:
                raise ValueError(
                    f"Model {self.name!r} takes inputs {self._input_names}; missing {missing}"
                )
            return [inputs[n] for n in self._input_names]
        flat = flatten(inputs) if len(self.inputs) > 1 else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} input(s) {self._input_names}, "
                f"received {len(flat)}"
            )
        return flat

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        values = [
            v if isinstance(v, layers_module.Value) else _const(np.asarray(v, self.dtype))
            for v in self._flat_inputs(inputs)
        ]
        return pack_like(self._outputs_struct, self._run_graph(values, training))

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.output_shape

    # -- what the trainer asks -----------------------------------------------------------

    def _input_specs(self) -> tuple[list[str], list[Any], list[Any]]:
        return (
            list(self._input_names),
            [t.shape for t in self.inputs],
            [t.dtype for t in self.inputs],
        )

    def _output_names(self) -> list[str]:
        return list(self._output_names_list)

    def _output_dtypes(self) -> list[Any]:
        return [t.dtype for t in self.outputs]

    def _output_activation(self, index: int) -> Any:
        node = self._output_nodes[index]
        layer = node.layer
        if (
            isinstance(layer, Dense)
            and layer.activity_regularizer is None
            and self._fusable[index]
            and sum(node is n for n in self._output_nodes) == 1
        ):
            return layer.activation
        return None

    def _forward(self, inputs: list[Any], training: bool, fused: Any) -> list[Any]:
        return self._run_graph(inputs, training, fused)

    def _pack_outputs(self, outputs: list[np.ndarray]) -> Any:
        if isinstance(self._outputs_struct, dict):
            return dict(zip(self._output_names_list, outputs, strict=True))
        if isinstance(self._outputs_struct, (list, tuple)):
            return list(outputs)
        return outputs[0]

    # -- summary ---------------------------------------------------------------------

    def _summary_layers(self) -> tuple[list[Layer], bool]:
        chain = (
            len(self.inputs) == 1
            and len(self.outputs) == 1
            and all(len(node.input_tensors) <= 1 for node in self._nodes)
            and len(self._graph_layers) == len(self._nodes)
            and len({id(t) for n in self._nodes for t in n.input_tensors})
            == sum(len(n.input_tensors) for n in self._nodes)
        )
        return self.layers, not chain

    def _summary_nodes(self) -> list[Node]:
        return list(self._nodes)

    # -- config ------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """Keras' functional layout: each layer with its ``inbound_nodes``, then the names of
        the input and output tensors as ``[layer name, node index, tensor index]``."""
        own = {id(n) for n in self._nodes}

        def node_index(layer: Layer, index: int) -> int:
            # a node's index among the layer's nodes that belong to this model
            kept = [n for n in layer._inbound_nodes if id(n) in own]
            return next(i for i, n in enumerate(kept) if n is layer._inbound_nodes[index])

        def ref(t: KerasTensor) -> list[Any]:
            layer, index, tensor_index = t._keras_history
            return [layer.name, node_index(layer, index), tensor_index]

        def arg(x: Any) -> Any:
            if isinstance(x, KerasTensor):
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": list(x.shape), "dtype": str(x.dtype),
                                   "keras_history": ref(x)}}  # fmt: skip
            if isinstance(x, (list, tuple)):
                return [arg(v) for v in x]
            if isinstance(x, dict):
                return {k: arg(v) for k, v in x.items()}
            return x

        layer_configs = []
        for layer in self._graph_layers:
            entry = layers_module.serialize(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": [arg(n.arguments)], "kwargs": dict(n.kwargs)}
                for n in layer._inbound_nodes
                if id(n) in own and not isinstance(layer, InputLayer)
            ]
            layer_configs.append(entry)

        def refs(struct: Any) -> Any:
            if isinstance(struct, dict):
                return {k: ref(struct[k]) for k in sorted(struct)}
            if isinstance(struct, (list, tuple)):
                return [ref(t) for t in struct]
            return ref(struct)

        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layer_configs,
            "input_layers": refs(self._inputs_struct),
            "output_layers": refs(self._outputs_struct),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Functional:
        """Rebuild the graph (fresh weights) from ``get_config()``: each layer is made from its
        config, then its recorded calls are replayed once their inputs exist."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("a functional model config must be a dict with a 'layers' list")
        made: dict[str, Layer] = {}
        for entry in config["layers"]:
            if not isinstance(entry, dict):
                raise ValueError(f"a layer entry must be a dict, received {entry!r:.100}")
            layer = _deserialize_layer(entry, custom_objects)
            name = entry.get("name", layer.name)
            if name in made:
                raise ValueError(f"two layers are named {name!r} in the model config")
            made[name] = layer
        return _replay(config, made, lambda layer: layer)

    def _rebuild(self, make: Callable[[Layer], Layer]) -> Functional:
        """The same graph over new layers ``make(layer)`` (for clone_model)."""
        config = self.get_config()
        made = {layer.name: (
            InputLayer(batch_input_shape=layer._batch_input_shape, name=layer.name,
                       dtype=layer.dtype)
            if isinstance(layer, InputLayer) else make(layer)
        ) for layer in self._graph_layers}  # fmt: skip
        return _replay(config, made, lambda layer: layer)


def _deserialize_layer(entry: dict[str, Any], custom_objects: dict | None) -> Layer:
    cls = entry.get("class_name")
    if cls in ("Sequential", "Functional", "Model"):
        return model_from_config(entry, custom_objects)
    return layers_module.deserialize(entry, custom_objects)


def _replay(config: dict[str, Any], made: dict[str, Layer], _: Any) -> Functional:
    tensors: dict[tuple[str, int, int], KerasTensor] = {}
    for name, layer in made.items():
        if isinstance(layer, InputLayer):
            tensors[(name, 0, 0)] = layer.output
    pending = []
    for entry in config["layers"]:
        for k, node in enumerate(entry.get("inbound_nodes") or []):
            pending.append((entry.get("name"), k, node))

    def resolve(x: Any) -> Any:
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            history = x.get("config", {}).get("keras_history")
            key = tuple(history) if isinstance(history, list) and len(history) == 3 else None
            if key not in tensors:
                raise KeyError(key)
            return tensors[key]
        if isinstance(x, list):
            return [resolve(v) for v in x]
        if isinstance(x, dict):
            return {k: resolve(v) for k, v in x.items()}
        return x

    limit = len(pending) + 1
    while pending and limit:
        limit -= 1
        remaining = []
        for name, k, node in pending:
            try:
                args = resolve(node.get("args", []))
            except KeyError:
                remaining.append((name, k, node))
                continue
            if name not in made:
                raise ValueError(f"inbound node of unknown layer {name!r}")
            if not isinstance(args, list) or len(args) != 1:
                raise ValueError(f"layer {name!r}: a node's args must hold one input structure")
            kwargs = node.get("kwargs") or {}
            if set(kwargs) - {"training"}:
                raise ValueError(f"layer {name!r}: unsupported call arguments {sorted(kwargs)}")
            out = made[name](args[0], **kwargs)
            for i, t in enumerate(flatten(out)):
                tensors[(name, k, i)] = t
        if len(remaining) == len(pending):
            raise ValueError(
                "the model config's graph cannot be rebuilt: a node's input is never produced "
                f"(first unresolved: layer {remaining[0][0]!r})"
            )
        pending = remaining

    def refs(struct: Any) -> Any:
        if isinstance(struct, dict):
            return {k: refs(v) for k, v in struct.items()}
        if isinstance(struct, list) and len(struct) == 3 and isinstance(struct[0], str):
            key = tuple(struct)
            if key not in tensors:
                raise ValueError(f"the model config names an unknown tensor {struct!r}")
            return tensors[key]
        if isinstance(struct, list):
            return [refs(v) for v in struct]
        raise ValueError(f"invalid input_layers/output_layers entry {struct!r:.100}")

    inputs = refs(config.get("input_layers"))
    outputs = refs(config.get("output_layers"))
    return Functional(inputs, outputs, name=config.get("name"),
                      trainable=config.get("trainable", True))  # fmt: skip


def _map_graph(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Node]:
    """The nodes between ``inputs`` and ``outputs`` in an order where each follows the nodes
    it takes from (the InputLayers' nodes first, in ``inputs`` order)."""
    input_ids = {id(t) for t in inputs}
    order: list[Node] = [t._keras_history[0]._inbound_nodes[0] for t in inputs]
    seen = {id(n) for n in order}
    visiting: set[int] = set()

    def visit(tensor: KerasTensor) -> None:
        if id(tensor) in input_ids:
            return
        history = tensor._keras_history
        if history is None:
            raise ValueError(f"the tensor {tensor.name!r} does not come from a layer")
        layer, index, _ = history
        node = layer._inbound_nodes[index]
        if id(node) in seen:
            return
        if isinstance(layer, InputLayer):
            raise ValueError(
                f"Graph disconnected: cannot obtain value for tensor {tensor.name!r} (the input "
                f"{layer.name!r}), which is not among the model's inputs "
                f"{[t.name for t in inputs]}"
            )
        if id(node) in visiting:
            raise ValueError("the graph has a cycle")
        visiting.add(id(node))
        for t in node.input_tensors:
            visit(t)
        visiting.discard(id(node))
        seen.add(id(node))
        order.append(node)

    for t in outputs:
        visit(t)
    return order


class Sequential(Model):
    """A linear stack of layers, trained with ``compile`` + ``fit`` as in Keras.

    ``Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])``
    maps inputs ``(batch, 2)`` to outputs ``(batch, 1)``. Once its input shape is
    known it is also a graph: ``model.inputs``, ``model.outputs`` and every
    layer's ``input``/``output`` are symbolic tensors for functional models.
    """

    def __init__(
        self, layers: Sequence[Layer] | None = None, trainable: bool = True,
        name: str | None = None,
    ) -> None:  # fmt: skip
        Model.__init__(self, name=name if name is not None else unique_name("sequential"),
                       trainable=trainable)  # fmt: skip
        self._layers: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._tensors: list[KerasTensor] = []  # the graph: the input, then each layer's output
        self._input_shape: Shape | None = None
        for layer in layers or []:
            self.add(layer)

    # -- structure -------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _sublayers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Layer | KerasTensor) -> None:
        """Append a layer; once the input shape is known every new layer is built at once."""
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise TypeError(
                "The added layer must be an instance of class Layer, received "
                f"{layer!r} of type {type(layer).__name__}"
            )
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("an InputLayer/Input can only be the first entry of a Sequential")
            self._input_layer = layer
            self._input_shape = tuple(layer.input_shape)
            self.built = False
            return
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. "
                f"Name {layer.name!r} is already the name of a layer in this model."
            )
        if not self._layers and self._input_shape is None:
            if layer._batch_input_shape is not None:
                self._input_shape = tuple(layer._batch_input_shape)
        self._layers.append(layer)
        layers_module._structure_changed()
        if self._input_shape is not None:
            try:
                if self.built and self._tensors:
                    self._tensors.append(layer(self._tensors[-1]))
                else:
                    self.build(self._input_shape)
            except Exception:
                self._layers.pop()  # a layer that does not fit leaves the model as it was
                layers_module._structure_changed()
                raise

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        layers_module._structure_changed()
        if len(self._tensors) > len(self._layers) + 1:
            self._tensors.pop()
        if not self._layers:
            self.built = False
        return layer

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch dimension first)."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(
                "You must provide an input_shape argument to build() (e.g. model.build((None, 10)))"
            )
        shape = (None,) + tuple(input_shape)[1:]
        if len(shape) < 2:
            raise ValueError(f"input_shape must be (batch, features), received {input_shape!r}")
        if self.built and self._input_shape is not None and self._input_shape[1:] != shape[1:]:
            raise ValueError(
                f"Model {self.name!r} was built for inputs of shape {self._input_shape}, "
                f"received input_shape {tuple(input_shape)}"
            )
        if self._input_layer is None or tuple(self._input_layer.input_shape[1:]) != shape[1:]:
            self._input_layer = InputLayer(
                batch_input_shape=shape,
                dtype=self._layers[0].dtype if self._layers else "float32",
                name=unique_name("input_layer"),
            )
        tensors = [self._input_layer.output]
        for layer in self._layers:
            tensors.append(layer(tensors[-1]))
        self._tensors = tensors
        self._input_shape = shape
        self._build_shape = shape
        self.built = bool(self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        self._require_built("inputs")
        return [self._tensors[0]]

    @property
    def outputs(self) -> list[KerasTensor]:
        self._require_built("outputs")
        return [self._tensors[-1]]

    @property
    def input(self) -> KerasTensor:
        return self.inputs[0]

    @property
    def output(self) -> KerasTensor:
        return self.outputs[0]

    @property
    def input_shape(self) -> Shape:
        self._require_built("input_shape")
        return self._input_shape

    @property
    def output_shape(self) -> Shape:
        self._require_built("output_shape")
        return self._tensors[-1].shape

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    # -- the forward pass --------------------------------------------------------------

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        """Run the layers on ``inputs`` (a Value or an array); returns a Value."""
        x = inputs if not isinstance(inputs, np.ndarray) else _const(inputs)
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def __call__(self, inputs: Any, *args: Any, training: bool | None = None, **kwargs: Any) -> Any:
        if type(inputs) is KerasTensor or args or kwargs:
            return Layer.__call__(self, inputs, *args, training=training, **kwargs)
        if not self.built:
            return Layer.__call__(self, inputs, training=training)
        if training is None:  # inside a subclassed model's call: follow its training flag
            training = getattr(layers_module._CALL_CONTEXT, "training", None)
        return self.call(inputs, training=bool(training))

    def _forward(self, inputs: list[Any], training: bool, fused: Any) -> list[Any]:
        x = inputs[0]
        if fused:
            last = self._layers[-1]
            for layer in self._layers[:-1]:
                x = layer(x, training=training)
            last._check_input_shape(x.shape)
            return [last.call_linear(x)]
        for layer in self._layers:
            x = layer(x, training=training)
        return [x]

    # -- what the trainer asks ---------------------------------------------------------

    def _build_from_data(self, xs: list[np.ndarray]) -> None:
        if not self._layers:
            raise ValueError("the model has no layers: add layers before using it")
        self.build((None,) + xs[0].shape[1:])

    def _input_specs(self) -> tuple[list[str], list[Any], list[Any]]:
        if not self._layers:
            raise ValueError("the model has no layers: add layers before using it")
        name = self._input_layer.name if self._input_layer is not None else "input_layer"
        shape = self._input_shape if self.built else None
        return [name], [shape], [self._layers[0].dtype]

    def _outputs_known(self) -> bool:
        return self.built

    def _output_names(self) -> list[str]:
        self._require_built("the model's outputs")
        return [self._layers[-1].name]

    def _output_shapes(self) -> list[Shape]:
        return [self.output_shape]

    def _output_dtypes(self) -> list[Any]:
        return [self._layers[-1].dtype]

    def _output_activation(self, index: int) -> Any:
        last = self._layers[-1] if self._layers else None
        if isinstance(last, Dense) and last.activity_regularizer is None:
            return last.activation
        return None

    def _pack_outputs(self, outputs: list[np.ndarray]) -> Any:
        return outputs[0]

    # -- config ------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """``{name, layers: [{class_name, config}...], build_input_shape}``, JSON-able."""
        config: dict[str, Any] = {
            "name": self.name,
            "layers": [layers_module.serialize(layer) for layer in self._layers],
        }
        if self._input_shape is not None:
            config["build_input_shape"] = list(self._input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Sequential:
        """Rebuild an (untrained) model with the same layers from ``get_config()``."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("a Sequential config must be a dict with a 'layers' list")
        model = cls(name=config.get("name"))
        for layer_config in config["layers"]:
            model.add(_deserialize_layer(layer_config, custom_objects))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built and model._layers:
            model.build(tuple(shape))
        return model

    def __repr__(self) -> str:
        return f"<Sequential name={self.name!r}, layers={[layer.name for layer in self._layers]}>"


# a model is a layer: model configs nest inside layer lists
layers_module._LAYERS.update(Sequential=Sequential, Functional=Functional)


# ----------------------------------------------------------------------------
# the course's perceptron


class Perceptron:
    """Rosenblatt's perceptron: ``y_hat = step(w . x + b)`` with the classic learning rule.

    On every mistake ``w <- w + alpha * (y - y_hat) * x`` and
    ``b <- b + alpha * (y - y_hat)`` (labels 0/1). It stops after an epoch with
    no mistake, or after ``max_iter`` epochs. ``errors_`` holds the number of
    mistakes in each epoch (the course's "error at each step" plot). It finds a
    separating line whenever one exists, and never converges on the circle or XOR.
    """

    def __init__(
        self,
        learning_rate: float = 0.1,
        max_iter: int = 100,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> None:
        if not float(learning_rate) > 0:
            raise ValueError(f"learning_rate must be positive, received {learning_rate!r}")
        if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive int, received {max_iter!r}")
        self.learning_rate = float(learning_rate)
        self.max_iter = int(max_iter)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.errors_: list[int] = []

    def fit(self, x: Any, y: Any) -> Perceptron:
        """Learn ``coef_`` (shape ``(features,)``) and ``intercept_`` from 0/1 labels."""
        x = _as_float_array(x, "x", np.dtype(np.float64))
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        y = _as_float_array(y, "y", np.dtype(np.float64)).reshape(-1)
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("Perceptron expects labels 0 and 1")
        rng = np.random.default_rng(self.seed)
        w = np.zeros(x.shape[1])
        b = 0.0
        self.errors_ = []
        for _ in range(self.max_iter):
            order = rng.permutation(len(x)) if self.shuffle else range(len(x))
            mistakes = 0
            for i in order:
                y_hat = 1.0 if x[i] @ w + b >= 0 else 0.0
                if y_hat != y[i]:
                    w += self.learning_rate * (y[i] - y_hat) * x[i]
                    b += self.learning_rate * (y[i] - y_hat)
                    mistakes += 1
            self.errors_.append(mistakes)
            if mistakes == 0:
                break
        self.coef_, self.intercept_ = w, b
        return self

    def decision_function(self, x: Any) -> np.ndarray:
        """``w . x + b`` for each sample."""
        if self.coef_ is None:
            raise ValueError("This Perceptron is not fitted yet: call fit(x, y) first")
        x = _as_float_array(x, "x", np.dtype(np.float64))
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        if x.shape[1] != len(self.coef_):
            raise ValueError(
                f"Perceptron expects inputs with last dimension {len(self.coef_)}, "
                f"received shape {x.shape}"
            )
        return x @ self.coef_ + self.intercept_

    def predict(self, x: Any) -> np.ndarray:
        """The step activation: 1 where ``w . x + b >= 0``, else 0 (int array)."""
        return (self.decision_function(x) >= 0).astype(int)

    def score(self, x: Any, y: Any) -> float:
        """Accuracy on ``x``/``y``."""
        return float((self.predict(x) == np.asarray(y).reshape(-1)).mean())
