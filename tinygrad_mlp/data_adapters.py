"""Every form of data ``fit``/``evaluate``/``predict`` take, as a stream of batches.

* arrays (NumPy, lists, pandas DataFrames/Series; a list or a dict of them for
  several inputs or outputs) are sliced into batches of ``batch_size``,
  shuffled each epoch when asked;
* ``utils.PyDataset`` (Keras' ``Sequence``) gives batch ``i`` from
  ``dataset[i]`` for ``i < len(dataset)`` and hears ``on_epoch_end()``;
* any other iterable or Python generator yields batches ``(x, y)`` or
  ``(x, y, sample_weight)`` (``x`` alone for ``predict``); with
  ``steps_per_epoch`` each epoch takes that many batches and the next epoch
  continues where it stopped, without it an epoch ends when the iterable does.

A batch is always handed on as ``(xs, ys, sample_weight)``: lists of arrays in
the model's input and output order, checked by the model's ``prepare``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_mlp import _fused

__all__ = ["ArrayAdapter", "StreamAdapter", "PyDatasetAdapter", "get_adapter", "unpack"]

Batch = tuple[list[np.ndarray], list[np.ndarray] | None, np.ndarray | None]


def is_array_like(x: Any) -> bool:
    """Arrays, nested lists of numbers, pandas objects; lists/dicts of those."""
    if x is None or isinstance(x, (np.ndarray, int, float)) or hasattr(x, "to_numpy"):
        return True
    if isinstance(x, dict):
        return all(is_array_like(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return True
    return hasattr(x, "__array__")


def as_array(x: Any) -> Any:
    """A pandas DataFrame/Series as its NumPy array; anything else unchanged."""
    if hasattr(x, "to_numpy") and (hasattr(x, "columns") or hasattr(x, "index")):
        return x.to_numpy()
    return x


def unpack(data: Any) -> tuple[Any, Any, Any]:
    """Keras' ``(x, y, sample_weight)`` from a batch: a tuple of 1, 2 or 3, else ``x`` alone."""
    if isinstance(data, list):  # as Keras: a list batch is read as a tuple
        data = tuple(data)
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(
            "A batch must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of "
            f"{len(data)} elements"
        )
    return data, None, None


GATHER_PER_BATCH_BYTES = 8 << 20  # above 8 MB of inputs a shuffled epoch is gathered per batch


class ArrayAdapter:
    """Batches sliced from arrays already in the model's order."""

    def __init__(
        self,
        xs: list[np.ndarray],
        ys: list[np.ndarray] | None,
        sample_weight: np.ndarray | None,
        batch_size: int,
        shuffle: bool = False,
        steps: int | None = None,
        rng: Any = None,
    ) -> None:
        self.xs, self.ys, self.sw = xs, ys, sample_weight
        self.n = len(xs[0])
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = rng if rng is not None else np.random
        full = math.ceil(self.n / batch_size)
        self.steps: int | None = full if steps is None else min(full, int(steps))

    def epoch(self) -> Iterator[Batch]:
        xs, ys, sw = self.xs, self.ys, self.sw
        if self.shuffle:
            order = self.rng.permutation(self.n)
            if sum(x.nbytes for x in xs) > GATHER_PER_BATCH_BYTES:
                yield from self._gathered(order)
                return
            xs = [x[order] for x in xs]
            ys = None if ys is None else [None if y is None else y[order] for y in ys]
            sw = None if sw is None else sw[order]
        size = self.batch_size
        if len(xs) == 1 and ys is not None and len(ys) == 1 and ys[0] is not None:
            x, y = xs[0], ys[0]  # the usual case, without the per-batch list building
            for step in range(self.steps):
                start, stop = step * size, min((step + 1) * size, self.n)
                yield [x[start:stop]], [y[start:stop]], None if sw is None else sw[start:stop]
            return
        for step in range(self.steps):
            start, stop = step * size, min((step + 1) * size, self.n)
            yield (
                [x[start:stop] for x in xs],
                None if ys is None else [None if y is None else y[start:stop] for y in ys],
                None if sw is None else sw[start:stop],
            )

    def _gathered(self, order: np.ndarray) -> Iterator[Batch]:
        """The shuffled batches, each gathered as it is needed: for data larger than the
        caches, a batch gathered just before its step is still in cache when the first
        layer reads it (a shuffled copy of the whole epoch is read back from memory)."""
        xs, ys, sw, size = self.xs, self.ys, self.sw, self.batch_size
        for step in range(self.steps):
            rows = order[step * size : min((step + 1) * size, self.n)]
            yield (
                [_take(x, rows) for x in xs],
                None if ys is None else [None if y is None else y[rows] for y in ys],
                None if sw is None else sw[rows],
            )

    def on_epoch_end(self) -> None:
        return None


def _take(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """x[rows]: numba's four-row loop, else np.take (a fifth faster than x[rows])."""
    taken = _fused.take_rows(x, rows)
    return np.take(x, rows, axis=0) if taken is None else taken


class PyDatasetAdapter:
    """Batches ``dataset[i]``, ``i < len(dataset)`` (shuffled order when asked), each
    prepared by the model; ``on_epoch_begin``/``on_epoch_end`` called as Keras does."""

    def __init__(
        self,
        dataset: Any,
        prepare: Callable[[Any], Batch],
        shuffle: bool = False,
        steps: int | None = None,
    ) -> None:
        try:
            count = len(dataset)
        except TypeError:
            raise TypeError(
                f"a PyDataset must define __len__ (the number of batches); {type(dataset).__name__}"
                " does not"
            ) from None
        if count < 1:
            raise ValueError(f"the PyDataset {type(dataset).__name__} has no batches (len 0)")
        self.dataset, self.prepare, self.shuffle = dataset, prepare, shuffle
        self.steps: int | None = count if steps is None else min(count, int(steps))
        self._first: Batch | None = None

    def peek(self) -> Batch:
        if self._first is None:
            self._first = self.prepare(self.dataset[0])
        return self._first

    def epoch(self) -> Iterator[Batch]:
        begin = getattr(self.dataset, "on_epoch_begin", None)
        if callable(begin):
            begin()
        order = np.arange(len(self.dataset))
        if self.shuffle:
            order = np.random.permutation(order)
        for i in order[: self.steps]:
            if i == 0 and self._first is not None:
                batch, self._first = self._first, None
                yield batch
            else:
                yield self.prepare(self.dataset[int(i)])

    def on_epoch_end(self) -> None:
        end = getattr(self.dataset, "on_epoch_end", None)
        if callable(end):
            end()


class StreamAdapter:
    """Batches pulled from an iterable or a generator, each prepared by the model."""

    def __init__(self, source: Any, prepare: Callable[[Any], Batch], steps: int | None) -> None:
        self.source = source
        self.prepare = prepare
        self.steps = steps
        self.reiterable = iter(source) is not source
        self._iterator: Iterator | None = None
        self._pending: list[Batch] = []
        self.exhausted = False
        self.ran_out = False

    def _next(self) -> Batch | None:
        if self._pending:
            return self._pending.pop(0)
        if self._iterator is None:
            self._iterator = iter(self.source)
        try:
            return self.prepare(next(self._iterator))
        except StopIteration:
            self._iterator = None
            return None

    def peek(self) -> Batch:
        batch = self._next()
        if batch is None:
            raise ValueError("the data generator/iterable yielded no batches")
        self._pending.insert(0, batch)
        return batch

    def epoch(self) -> Iterator[Batch]:
        taken = 0
        while self.steps is None or taken < self.steps:
            batch = None if (self.exhausted and not self.reiterable) else self._next()
            if batch is None:
                if not self.reiterable:
                    self.exhausted = True
                if self.steps is not None or taken == 0:
                    self.ran_out = True
                    warnings.warn(
                        "Your input ran out of data; interrupting training. Make sure that "
                        "your dataset or generator can generate at least `steps_per_epoch * "
                        "epochs` batches.",
                        UserWarning,
                        stacklevel=4,
                    )
                break
            taken += 1
            yield batch
        if self.steps is None and taken:
            self.steps = taken  # later epochs know the count, as Keras' progress bar does

    def on_epoch_end(self) -> None:
        return None


def get_adapter(
    x: Any,
    prepare: Callable[[Any], Batch],
    steps: int | None,
    shuffle: bool,
) -> PyDatasetAdapter | StreamAdapter:
    """The adapter of a PyDataset, an iterable or a generator (arrays are the model's)."""
    from tinygrad_mlp.utils import PyDataset

    if isinstance(x, PyDataset) or (hasattr(x, "__getitem__") and hasattr(x, "on_epoch_end")):
        return PyDatasetAdapter(x, prepare, shuffle=shuffle, steps=steps)
    if not hasattr(x, "__iter__") and not hasattr(x, "__next__"):
        raise TypeError(
            "x must be an array (NumPy, list, pandas), a dict or list of arrays, a PyDataset, "
            f"or an iterable/generator of batches; received {type(x).__name__}"
        )
    return StreamAdapter(x, prepare, steps)
