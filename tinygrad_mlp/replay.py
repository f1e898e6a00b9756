"""The replayed training step: a step of ``fit`` without per-step graph bookkeeping.

The eager step builds a graph of ``Value`` nodes for every batch, sorts it, runs each
node's rule and hands the optimizer one gradient per weight. For a chain of
``Dense`` layers (a ``Sequential``, or a functional ``Model`` from one ``Input``) the
graph is the same every step, so (in the spirit of tinygrad's ``TinyJit`` and
``jax.jit``) the step is planned once and then replayed:

* the backward order is fixed: output loss, then each layer from the last down;
* every intermediate lives in a buffer allocated once per batch size, written with
  NumPy's ``out=`` (``z = a @ W`` is ``np.matmul(a, W, out=z)``; activations in place);
* the trainable weights are views into one flat vector, their gradients into another,
  the optimizer's slots into flat vectors too, so the update is the optimizer's own
  elementwise rule called once over all parameters instead of once per weight.

The arithmetic is the eager path's, operation for operation (the fused losses share
their NumPy with ``losses``; the activation rules are the engine's, written in
place), so a replayed fit gives the eager fit's weights and History bit for bit
(``tests/test_replay.py`` checks every supported combination). Anything else falls
back to the eager step, decided once per fit (the model, loss, optimizer) and
checked every step (the batch's shapes and dtypes, a weight replaced through
``.data =`` or ``set_weights``, the optimizer swapped, grad mode, anomaly mode).
``compile(jit_compile=False)`` or ``run_eagerly=True`` keeps every step eager.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp import _fused, engine
from tinygrad_mlp.layers import _times_transposed

__all__ = ["ReplayedStep", "plan_replay"]

_KEPT_BATCH_SIZES = 4  # buffers kept for this many batch sizes (an epoch has one or two)
_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid")  # hidden (and unfused output) ones
_ELEMENTWISE_OPTIMIZERS = ("SGD", "Adam", "RMSprop", "Adagrad")  # _update acts per element,
# so one call over the flat vector is the per-weight calls (these exact classes, not subclasses)


def plan_replay(model: Any, plan: Any, trainable: list) -> tuple[ReplayedStep | None, str]:
    """A replayed step for ``model`` as compiled, or None and the reason it must stay eager."""
    from tinygrad_mlp import losses, optimizers
    from tinygrad_mlp.layers import Dense

    config = model.__dict__.get("_replay_config", {})
    if config.get("jit_compile") is False or config.get("run_eagerly"):
        return None, "compile() asked for eager steps"
    layers = _chain(model)
    if layers is None:
        return None, f"{type(model).__name__} is not a chain of layers from one input"
    if not layers or any(type(layer) is not Dense for layer in layers):
        return None, "only a stack of Dense layers is replayed"
    if plan.multi or plan.losses[0] is None or plan.weights[0] != 1.0:
        return None, "one output with one unweighted loss is replayed"
    if model._penalized or model._constrained:
        return None, "regularizers and constraints run on the eager step"
    for layer in layers:
        if layer.activity_regularizer is not None or layer.kernel.data.ndim != 2:
            return None, f"layer {layer.name!r} needs the eager step"
    dtype = layers[0].kernel.data.dtype
    if any(w.data.dtype != dtype for layer in layers for w in _weights(layer)):
        return None, "the weights do not share one dtype"
    loss, fused = plan.losses[0], plan.fused[0]
    kind = _loss_kind(loss, fused, losses)
    if kind is None:
        return None, f"the loss {getattr(loss, 'name', loss)!r} is not replayed"
    names = [_activation_name(layer.activation) for layer in layers]
    if fused is None and names[-1] not in _ACTIVATIONS:
        return None, f"the output activation {names[-1]!r} is not replayed"
    if any(name not in _ACTIVATIONS for name in names[:-1]):
        return None, "a hidden activation is not one of " + ", ".join(_ACTIVATIONS)
    optimizer = model.optimizer
    if type(optimizer) not in [getattr(optimizers, name) for name in _ELEMENTWISE_OPTIMIZERS]:
        return None, f"the optimizer {type(optimizer).__name__} is not replayed"
    if optimizer.clipnorm or optimizer.clipvalue or optimizer.global_clipnorm:
        return None, "gradient clipping runs on the eager step"
    if optimizer.weight_decay:
        return None, "weight decay runs on the eager step"
    if not trainable or len({id(w) for w in trainable}) != len(trainable):
        return None, "no trainable weights"
    held = {id(w) for layer in layers for w in _weights(layer)}
    if any(id(w) not in held for w in trainable):
        return None, "a trainable weight is outside the Dense stack"
    return ReplayedStep(layers, model, plan, trainable, kind, names), ""


def _chain(model: Any) -> list | None:
    """The layers in order when the model is one chain (a Sequential, or a functional
    Model whose every layer takes the previous one's output), else None."""
    from tinygrad_mlp.models import Functional, Sequential

    if type(model) is Sequential:
        return model.layers
    if type(model) is not Functional or len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    previous, layers = model._input_ids[0], []
    for _, layer, in_id, out_id, kwargs in model._run_plan:
        if in_id != previous or out_id is None or kwargs or any(layer is x for x in layers):
            return None
        layers.append(layer)
        previous = out_id
    return layers if previous == model._output_ids[0] else None


def _weights(layer: Any) -> list:
    return [layer.kernel] if layer.bias is None else [layer.kernel, layer.bias]


def _activation_name(fn: Any) -> str:
    from tinygrad_mlp import activations

    for name in (*_ACTIVATIONS, "softmax"):
        if fn is getattr(activations, name):
            return name
    return getattr(fn, "__name__", repr(fn))


def _loss_kind(loss: Any, fused: Any, losses: Any) -> str | None:
    """Which loss the step computes, if it is one the replay spells out."""
    if getattr(loss, "reduction", None) != "sum_over_batch_size":
        return None
    if type(loss) is losses.MeanSquaredError:
        return "mse"
    if type(loss) not in (
        losses.BinaryCrossentropy,
        losses.SparseCategoricalCrossentropy,
        losses.CategoricalCrossentropy,
    ):
        return None
    if getattr(loss, "label_smoothing", 0.0) or getattr(loss, "axis", -1) != -1:
        return None
    if fused is None:  # the probabilities form clips: left to the eager step
        return None
    return {
        losses.BinaryCrossentropy: "bce",
        losses.SparseCategoricalCrossentropy: "sparse_ce",
        losses.CategoricalCrossentropy: "ce",
    }[type(loss)]


class _Buffers:
    """Everything one batch size needs, allocated once."""

    def __init__(self, n: int, widths: list[int], dtype: np.dtype, kind: str | None = None) -> None:
        self.z = [np.empty((n, w), dtype) for w in widths[1:]]  # each layer's output, in place
        self.gz = [np.empty((n, w), dtype) for w in widths[1:]]  # d loss / d pre-activation
        self.ga = [np.empty((n, w), dtype) for w in widths[1:-1]]  # d loss / d layer output
        self.tmp = [np.empty((n, w), dtype) for w in widths[1:]]
        bits = np.dtype(f"i{np.dtype(dtype).itemsize}")  # an integer as wide as the floats
        self.blocked = [np.empty((n, w), bool) for w in widths[1:]]
        self.keep = [np.empty((n, w), bits) for w in widths[1:]]
        self.rows = np.arange(n)
        # the batch mean's backward, as the engine computes it (in the weights' dtype)
        self.scale = np.ones((), dtype) * (1.0 / n)
        self.scale_rows = np.full(n, self.scale)  # the same, once per sample
        k = widths[-1]
        # a per-sample mean over k > 1 outputs (bce, mse) scales once more, in the same dtype
        self.scale_last = self.scale if k == 1 else self.scale * (1.0 / k)
        self.batch_scale = 1.0 / n
        # a sparse cross-entropy's compiled loops and their arrays, checked here once
        loops = _fused.sparse_ce_loops(dtype, k) if kind == "sparse_ce" else None
        self.sparse_ce = None
        if loops is not None:
            arrays = (np.empty((n, k), dtype), np.empty(n, dtype), np.empty(n, dtype))
            self.sparse_ce = (loops, *arrays, np.dtype(dtype).type(1.0))


class ReplayedStep:
    """One planned training step; ``step(xs, ys, sw)`` returns fit's triple or None."""

    def __init__(
        self, layers: list, model: Any, plan: Any, trainable: list, kind: str, names: list
    ) -> None:
        self.layers = layers
        self.kind = kind
        # each layer's activation as the step runs it: a fused output's is the loss's
        self.fused = plan.fused[0] is not None
        self.activations = names[:-1] + ["linear" if self.fused else names[-1]]
        self.needs_pred = plan.needs_pred[0]
        self.optimizer = model.optimizer
        self.trainable = list(trainable)
        self.dtype = self.layers[0].kernel.data.dtype
        self.widths = [self.layers[0].kernel.data.shape[0]] + [
            layer.kernel.data.shape[1] for layer in self.layers
        ]
        self.buffers: dict[int, _Buffers] = {}
        self._flatten()
        flat = {id(w) for w in self.trainable}
        self.frozen = [
            (w, w.data.shape) for lay in layers for w in _weights(lay) if id(w) not in flat
        ]
        grads = self.grad_views
        self.layer_grads = []  # per layer: kernel and bias gradient views, whether to go below
        for i, layer in enumerate(self.layers):
            below = any(id(w) in grads for lay in self.layers[:i] for w in _weights(lay))
            self.layer_grads.append((
                grads.get(id(layer.kernel)),
                None if layer.bias is None else grads.get(id(layer.bias)),
                i > 0 and below,
            ))  # fmt: skip
        # per layer the compiled loops for its bias and activation, chosen once (the arrays
        # they get are this step's buffers and flat views, whose dtype and layout are fixed)
        self.zero = self.dtype.type(0.0)
        self.loops = [
            _fused.layer_loops(self.dtype, act, layer.bias is not None, gb is not None, units)
            for layer, act, (_, gb, _), units in zip(
                self.layers, self.activations, self.layer_grads, self.widths[1:], strict=True
            )
        ]

    # -- the flat parameter, gradient and slot vectors ------------------------------------

    def _flatten(self) -> None:
        """Move the trainable weights (and the optimizer's slots) into flat vectors."""
        from tinygrad_mlp import optimizers

        dtype = self.dtype
        shapes = [w.data.shape for w in self.trainable]
        total = sum(w.data.size for w in self.trainable)
        self.flat = np.empty(total, dtype)
        self.flat_grad = np.zeros(total, dtype)
        self.views = _carve(self.flat, shapes)
        for w, view in zip(self.trainable, self.views, strict=True):
            view[...] = w.data
            w.data = view  # stamps the write, as any assignment does
        grads = _carve(self.flat_grad, shapes)
        self.grad_views = {id(w): g for w, g in zip(self.trainable, grads, strict=True)}
        opt = self.optimizer
        opt.build(self.trainable)
        indices = [opt._index[id(w)] for w in self.trainable]
        self.slots = {}
        for name in opt._slot_names:
            self.slots[name] = flat = np.empty(total, dtype)
            for i, view in zip(indices, _carve(flat, shapes), strict=True):
                view[...] = opt._slots[i][name]
                opt._slots[i][name] = view
        self.scratch = np.empty(total, dtype)
        for i, view in zip(indices, _carve(self.scratch, shapes), strict=True):
            opt._scratch[i] = view
        # SGD reads the gradient only before its first write to the scratch vector, so the
        # gradient vector can be its scratch: a 4-byte-per-parameter pass less memory to touch
        self.work = self.flat_grad if type(opt) is optimizers.SGD else self.scratch
        self.slot_views = [
            (opt._slots[i], {name: opt._slots[i][name] for name in opt._slot_names})
            for i in indices
        ]

    def _intact(self, optimizer: Any) -> bool:
        """Nothing was re-bound since the flat vectors were made (or it can be taken back)."""
        if optimizer is not self.optimizer:
            return False
        for w, view in zip(self.trainable, self.views, strict=True):
            data = w._data
            if not w.requires_grad:  # the eager step gives it a zero gradient
                return False
            if data is view:
                continue
            if type(data) is not np.ndarray or data.shape != view.shape or data.dtype != view.dtype:
                return False
            view[...] = data  # set_weights or .data = ...: take the new values into the vector
            w.data = view
        for slots, views in self.slot_views:
            for name, view in views.items():
                if slots.get(name) is not view:
                    return False
        for w, shape in self.frozen:  # read as they are, in the dtype the buffers are made for
            data = w._data
            if type(data) is not np.ndarray or data.dtype != self.dtype or data.shape != shape:
                return False
        return True

    # -- the step ---------------------------------------------------------------------------

    def step(self, xs: list, ys: list, sw: Any, optimizer: Any) -> tuple | None:
        """The eager ``_train_step``'s (loss, per-output losses, predictions), or None when
        this batch needs the eager step (``optimizer``: the model's now)."""
        if sw is not None or len(xs) != 1 or engine._ANOMALY or not engine.is_grad_enabled():
            return None
        x, y = xs[0], ys[0]
        if (
            type(x) is not np.ndarray
            or x.ndim != 2
            or x.shape[1] != self.widths[0]
            or x.dtype != self.dtype
            or type(y) is not np.ndarray
        ):
            return None
        n = x.shape[0]
        if self.kind == "sparse_ce":
            if y.shape != (n,) or y.dtype != np.int64:
                return None
        elif y.shape != (n, self.widths[-1]):
            return None
        if not self._intact(optimizer):
            return None
        bufs = self.buffers.get(n)
        if bufs is None:
            if n == 0:
                return None
            if len(self.buffers) >= _KEPT_BATCH_SIZES:  # batches of ever new sizes: keep few
                self.buffers.pop(next(iter(self.buffers)))
            bufs = self.buffers[n] = _Buffers(n, self.widths, self.dtype, self.kind)
        if y.dtype != self.dtype and self.kind != "sparse_ce":
            y = y.astype(self.dtype)
        layers, acts = self.layers, self.activations
        last = len(layers) - 1
        dot, add, total = np.dot, np.add, np.add.reduce
        # forward: z = a @ W (+ b), then the activation in place
        a, zero, loops = x, self.zero, self.loops
        for i, layer in enumerate(layers):
            z = bufs.z[i]
            dot(a, layer.kernel._data, out=z)
            act, (forward, _) = acts[i], loops[i]
            bias = None if layer.bias is None else layer.bias._data
            if forward is not None and act == "relu":
                forward(z, bias, zero)  # no mask made: the backward reads the output instead
            else:
                if forward is not None:
                    forward(z, bias)
                elif bias is not None:
                    add(z, bias, out=z)
                _forward_activation(act, z, bufs, i)
            a = z
        loss, pred, g = self._loss(a, y, bufs)
        if g is None:
            return None
        # backward: the loss's gradient at the output, then each layer from the last down
        for i in range(last, -1, -1):
            layer, (gk, gb, below_needed) = layers[i], self.layer_grads[i]
            act, (forward, backward) = acts[i], loops[i]
            fused_relu = act == "relu" and forward is not None
            if fused_relu and backward is not None:
                # the ReLU's backward and the bias's column sums in one pass, in place in g
                # (a buffer of this step's own)
                backward(g, bufs.z[i], gb, zero)
            else:
                if fused_relu:  # the NumPy backward wants the mask the fused forward skipped
                    _relu_mask(bufs, i)
                g = _backward_activation(act, g, bufs, i)
                if gb is not None and backward is not None:
                    backward(g, gb)
                elif gb is not None:
                    total(g, axis=0, out=gb)
            if gk is not None:
                dot((x if i == 0 else bufs.z[i - 1]).T, g, out=gk)
            if not below_needed:
                break
            g = _times_transposed(g, layer.kernel._data, out=bufs.ga[i - 1])
        opt = self.optimizer
        lr = opt.learning_rate
        opt._before_step()
        opt._update(self.flat, self.flat_grad, self.slots, self.work, lr)
        opt.iterations += 1
        return float(loss), [], [pred]

    def _loss(self, out: np.ndarray, y: np.ndarray, bufs: _Buffers) -> tuple:
        """The batch loss (as the eager step computes it), the predictions fit's metrics
        see, and d loss / d out (for a fused loss: d loss / d logits)."""
        from tinygrad_mlp import losses

        kind, k, g = self.kind, self.widths[-1], bufs.gz[-1]
        scale = bufs.scale_last
        if kind == "sparse_ce" and bufs.sparse_ce is not None:
            # the loops of losses._sparse_softmax_ce_arrays and its gradient, on this batch
            # size's arrays (the eager op's checks and allocations made once)
            loops, e, picked, per, one = bufs.sparse_ce
            if not _fused.sparse_softmax_ce_into(loops, out, y, e, picked, per, True):
                return None, None, None  # a label out of range: the eager step says which
            pred = e.copy() if self.needs_pred else out
            loops[2](e, y, bufs.scale_rows, one)  # the gradient, in place
            g = e
        elif kind == "sparse_ce":
            per, probs = losses._sparse_softmax_ce_arrays(out, bufs.rows, y, True)
            pred = probs.copy() if self.needs_pred else out
            g = losses._sparse_softmax_ce_grad(probs, bufs.rows, y, bufs.scale_rows)
        elif kind == "ce":
            per, y_sum, probs = losses._softmax_ce_arrays(out, y, True)
            pred = probs.copy() if self.needs_pred else out
            np.multiply(probs, y_sum, out=g)
            g -= y
            g *= bufs.scale
        elif kind == "bce":
            elementwise, probs = losses._sigmoid_ce_arrays(out, y, True)
            per = elementwise.reshape(-1) if k == 1 else elementwise.sum(axis=(1,)) * (1.0 / k)
            pred = probs if self.needs_pred else out
            np.subtract(probs, y, out=g)
            g *= scale
        else:  # mse: d = out - y, l = mean over the last axis of d * d
            d = bufs.tmp[-1]
            np.subtract(out, y, out=d)
            squares = d * d
            per = squares.reshape(-1) if k == 1 else squares.sum(axis=(1,)) * (1.0 / k)
            pred = out
            np.multiply(d, scale, out=d)  # the product rule's two equal terms, summed
            g = np.add(d, d, out=g)
        loss = np.add.reduce(per) * bufs.batch_scale
        return loss, pred, g


def _carve(flat: np.ndarray, shapes: list[tuple]) -> list[np.ndarray]:
    """Consecutive views of ``flat``, one of each shape."""
    views, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=np.int64))
        views.append(flat[offset : offset + size].reshape(shape))
        offset += size
    return views


def _relu_mask(bufs: _Buffers, i: int, z: np.ndarray | None = None) -> np.ndarray:
    """Layer ``i``'s mask: all ones where its ReLU passes the gradient (z > 0 or NaN), 0 where
    z <= 0; from z before the ReLU or from its output (+0.0 exactly where z <= 0), by default
    the layer's buffer."""
    blocked, keep = bufs.blocked[i], bufs.keep[i]
    np.less_equal(bufs.z[i] if z is None else z, 0, out=blocked)
    np.subtract(blocked, 1, out=keep, dtype=keep.dtype)  # False -> all ones, True -> 0
    return keep


def _forward_activation(name: str, z: np.ndarray, bufs: _Buffers, i: int) -> None:
    """g(z) in place (the engine's forward of the op)."""
    if name == "relu":
        # the engine's relu (ops._np_relu) in place: z's bits where z > 0 or NaN, +0.0's bits
        # where z <= 0. The mask "the gradient passes here" is kept for the backward, which
        # is then one pass: the engine's where(z <= 0, 0, g) is the same selection
        keep = _relu_mask(bufs, i, z)
        bits = z.view(keep.dtype)
        np.bitwise_and(bits, keep, out=bits)
    elif name == "tanh":
        np.tanh(z, out=z)
    elif name == "sigmoid":
        from tinygrad_mlp.ops import _np_sigmoid

        z[...] = _np_sigmoid(z)


def _backward_activation(name: str, g: np.ndarray, bufs: _Buffers, i: int) -> np.ndarray:
    """d loss / d z from d loss / d g(z), layer ``i``'s buffer holding g(z): the engine's
    rules in place."""
    out, into, tmp = bufs.z[i], bufs.gz[i], bufs.tmp[i]
    if name == "relu":
        # the engine's where(z <= 0, 0, g) (NaN passes g), selected bitwise with the forward's
        # mask: g's bits where the gradient passes, +0.0's bits elsewhere. The same bits as
        # np.where, without its branch per element (3x slower on random signs)
        keep = bufs.keep[i]
        np.bitwise_and(g.view(keep.dtype), keep, out=into.view(keep.dtype))
        return into
    if name == "tanh":  # g (1 - t^2)
        np.multiply(out, out, out=tmp)
        np.subtract(1.0, tmp, out=tmp)
        return np.multiply(g, tmp, out=into)
    if name == "sigmoid":  # g s (1 - s)
        np.subtract(1.0, out, out=tmp)
        np.multiply(out, tmp, out=tmp)
        return np.multiply(g, tmp, out=into)
    return g
