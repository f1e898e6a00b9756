"""Symbolic tensors and graph nodes: what the functional API is made of.

``Input(shape=(3,))`` returns a ``KerasTensor``: a shape and a dtype, no data.
Calling a layer on KerasTensors does not compute anything; it records a
``Node`` (the layer, the tensors that went in, the tensors that came out) and
returns new KerasTensors whose output shapes the layer computed. A
``Model(inputs, outputs)`` walks those nodes back from its outputs to its
inputs once, then runs them in order on real ``Value``s at every call::

    a = Input((3,)); b = Input((2,))
    h = Concatenate()([a, b])          # a Node of Concatenate: [a, b] -> h
    model = Model([a, b], Dense(1)(h))

Every tensor remembers where it came from in ``_keras_history``:
``(layer, node_index, tensor_index)``, Keras' own triple, which is also what a
saved functional config stores (with the layer's name) to rebuild the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KerasTensor", "Node", "flatten", "pack_like", "is_symbolic", "map_structure"]

Shape = tuple[int | None, ...]


class KerasTensor:
    """A placeholder of a known shape (batch dimension ``None``) and dtype, with no data."""

    __slots__ = ("shape", "dtype", "name", "_keras_history")

    def __init__(self, shape: Shape, dtype: Any = "float32", name: str | None = None) -> None:
        self.shape: Shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self._keras_history: tuple[Any, int, int] | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return (
            f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse=False, name={self.name}>"
        )

    def __bool__(self) -> bool:
        raise TypeError(
            "A symbolic KerasTensor has no value, so it cannot be used as a Python bool; "
            "compute with layers (or call the model on data) instead"
        )

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"A symbolic KerasTensor {self.name!r} of shape {self.shape} has no data to turn "
            "into a NumPy array. KerasTensors only describe a graph: pass them to layers and "
            "to Model(inputs, outputs), then call the model on arrays."
        )


class Node:
    """One call of a layer in a graph: ``arguments`` (the structure of input tensors) and
    ``outputs`` (the structure of output tensors), and the call's keyword arguments."""

    __slots__ = ("layer", "arguments", "outputs", "kwargs", "input_tensors", "output_tensors")

    def __init__(self, layer: Any, arguments: Any, outputs: Any, kwargs: dict[str, Any]) -> None:
        self.layer = layer
        self.arguments = arguments
        self.outputs = outputs
        self.kwargs = dict(kwargs)
        self.input_tensors: list[KerasTensor] = [t for t in flatten(arguments) if is_symbolic(t)]
        self.output_tensors: list[KerasTensor] = flatten(outputs)
        index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.output_tensors):
            tensor._keras_history = (layer, index, i)

    @property
    def parent_nodes(self) -> list[Node]:
        """The nodes whose outputs this node takes."""
        out = []
        for t in self.input_tensors:
            layer, index, _ = t._keras_history
            out.append(layer._inbound_nodes[index])
        return out

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}: {len(self.input_tensors)} in, {len(self.output_tensors)}>"


def is_symbolic(x: Any) -> bool:
    return type(x) is KerasTensor


def flatten(structure: Any) -> list[Any]:
    """The leaves of nested lists, tuples and dicts (dicts in sorted key order, as Keras)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    return [structure]


def pack_like(structure: Any, flat: list[Any]) -> Any:
    """Put ``flat`` leaves back into the shape of ``structure`` (the inverse of ``flatten``)."""
    leaves = iter(flat)

    def rebuild(s: Any) -> Any:
        if isinstance(s, (list, tuple)):
            return (
                type(s)(rebuild(item) for item in s)
                if isinstance(s, tuple)
                else [rebuild(item) for item in s]
            )
        if isinstance(s, dict):
            return {key: rebuild(s[key]) for key in sorted(s)}
        return next(leaves)

    return rebuild(structure)


def map_structure(fn: Any, structure: Any) -> Any:
    return pack_like(structure, [fn(leaf) for leaf in flatten(structure)])


def any_symbolic(structure: Any) -> bool:
    if type(structure) is KerasTensor:
        return True
    if isinstance(structure, (list, tuple, dict)):
        return any(is_symbolic(leaf) for leaf in flatten(structure))
    return False
