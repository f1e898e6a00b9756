"""A micrograd-style neural network on scalar ``Value``s, for teaching.

Every weight is one scalar ``Value``, so the whole network is a graph of
additions, multiplications and activations that ``draw_graph`` can show and
``backward`` differentiates, one neuron at a time, exactly as the course
draws it on the board: ``a = g(b + sum_k w_k x_k)``.

>>> model = MLP(3, [4, 4, 1])
>>> out = model([2.0, 3.0, -1.0])
>>> out.backward()
>>> len(model.parameters())
41
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from tinygrad_mlp.engine import Value

__all__ = ["Module", "Neuron", "Layer", "MLP"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid")


class Module:
    """Something with scalar parameters: ``parameters()`` and ``zero_grad()``."""

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to 0 before the next backward pass."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        return []


class Neuron(Module):
    """One neuron with ``nin`` inputs: ``g(b + sum_k w_k x_k)``.

    Weights start uniform in [-1, 1], the bias at 0 (as micrograd). ``nonlin``
    False makes a linear neuron; ``activation`` chooses relu (micrograd's),
    tanh or sigmoid.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        activation: str = "relu",
        rng: random.Random | None = None,
        label: str = "",
    ) -> None:
        if not isinstance(nin, int) or isinstance(nin, bool) or nin < 1:
            raise ValueError(f"Neuron needs a positive number of inputs, received nin={nin!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}; valid ones are {', '.join(_ACTIVATIONS)}"
            )
        rng = rng or random
        prefix = f"{label}/" if label else ""
        self.w = [Value(rng.uniform(-1, 1), label=f"{prefix}w{k}") for k in range(nin)]
        self.b = Value(0.0, label=f"{prefix}b")
        self.nonlin = bool(nonlin)
        self.activation = activation

    def __call__(self, x: Sequence[Any]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron expects {len(self.w)} inputs, received {len(x)}")
        act = self.b
        for wi, xi in zip(self.w, x, strict=True):
            act = act + wi * xi
        if not self.nonlin:
            return act
        return getattr(act, self.activation)()

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        kind = self.activation.capitalize() if self.nonlin else "Linear"
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; a single output is returned bare."""

    def __init__(
        self,
        nin: int,
        nout: int,
        nonlin: bool = True,
        activation: str = "relu",
        rng: random.Random | None = None,
        label: str = "",
    ) -> None:
        if not isinstance(nout, int) or isinstance(nout, bool) or nout < 1:
            raise ValueError(f"Layer needs a positive number of neurons, received nout={nout!r}")
        prefix = f"{label}/" if label else ""
        self.neurons = [
            Neuron(nin, nonlin=nonlin, activation=activation, rng=rng, label=f"{prefix}n{j}")
            for j in range(nout)
        ]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(3, [4, 4, 1])`` has layers 3->4->4->1.

    Hidden layers use ``activation``; the last layer is linear (as micrograd).
    ``seed`` makes the initial weights reproducible.
    """

    def __init__(
        self, nin: int, nouts: Sequence[int], activation: str = "relu", seed: int | None = None
    ) -> None:
        nouts = list(nouts)
        if not nouts:
            raise ValueError("MLP needs at least one layer size in nouts")
        rng = random.Random(seed) if seed is not None else None
        sizes = [nin] + nouts
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                nonlin=i != len(nouts) - 1,
                activation=activation,
                rng=rng,
                label=f"layer{i}",
            )
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Any]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
            if isinstance(x, Value):
                x = [x] if layer is not self.layers[-1] else x
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
