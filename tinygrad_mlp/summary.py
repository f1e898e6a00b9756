"""``model.summary()``: Keras 3's table of layers, output shapes, parameter counts and links.

The layout follows Keras 3: the table is ``min(88, terminal width - 4)``
characters wide for a chain of layers (``min(108, ...)`` with a fourth column,
"Connected to", for a functional graph with branches), the columns sit at
Keras' relative positions, the borders are taken evenly out of the columns,
and a cell too long for its column wraps at spaces. Plain ASCII (Keras 2's
layout) replaces the box-drawing characters when the stream cannot encode them.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["print_summary"]


def print_summary(
    model: Any,
    line_length: int | None = None,
    positions: Sequence[float] | None = None,
    print_fn: Callable[[str], Any] | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
) -> None:
    """Print ``model``'s summary one line at a time through ``print_fn`` (default: stdout)."""
    layers, linked = model._summary_layers()
    relevant = model._summary_nodes() if linked else None
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if linked else [])
    default_length = 108 if linked else 88
    default_positions = [0.3, 0.56, 0.74, 1.0] if linked else [0.45, 0.80, 1.0]
    if show_trainable:
        default_length += 12
        default_positions = [p * 0.90 for p in default_positions] + [1.0]
        header.append("Trainable")
    rows: list[list[str]] = []
    for layer in layers:
        rows.extend(_layer_rows(layer, relevant, linked, expand_nested, show_trainable, 0))
    trainable = sum(w.data.size for w in model.trainable_weights)
    non_trainable = sum(w.data.size for w in model.non_trainable_weights)
    itemsize = 4
    weights = model.weights
    if weights:
        itemsize = weights[0].data.dtype.itemsize
    optimizer = getattr(model, "optimizer", None)
    opt_count = _optimizer_param_count(optimizer) if optimizer is not None else None
    total = trainable + non_trainable + (opt_count or 0)
    totals = [
        f"Total params: {total:,} ({_readable_size(total * itemsize)})",
        f"Trainable params: {trainable:,} ({_readable_size(trainable * itemsize)})",
        f"Non-trainable params: {non_trainable:,} ({_readable_size(non_trainable * itemsize)})",
    ]
    if opt_count is not None:
        totals.append(f"Optimizer params: {opt_count:,} ({_readable_size(opt_count * itemsize)})")
    if print_fn is None:
        stream = sys.stdout
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            "┏━┃┡╇┩│├┼┤└┴┘─└".encode(encoding)
            boxes = True
        except (UnicodeEncodeError, LookupError):
            boxes = False

        def print_fn(line: str) -> None:
            print(line, file=stream)
    else:
        boxes = True
    if boxes:
        length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
        lines = _box_table(model.name, header, rows, totals, length, positions or default_positions)
    else:
        lines = _ascii_table(model.name, header, rows, totals, line_length, positions)
    for line in lines:
        print_fn(line)


def _optimizer_param_count(optimizer: Any) -> int | None:
    """Keras' count of an optimizer's variables once it has stepped: the iteration counter,
    the learning rate and every slot array (momentum, m, v...); None before its first step."""
    slots = getattr(optimizer, "_slots", None)
    if not getattr(optimizer, "_variables", None):
        return None
    return 2 + sum(int(arr.size) for entry in slots for arr in entry.values())


def _layer_rows(
    layer: Any, relevant: Any, linked: bool, expand: bool, show_trainable: bool, level: int
) -> list[list[str]]:
    prefix = "   " * level + "└ " if level else ""
    params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
    row = [f"{prefix}{layer.name} ({type(layer).__name__})", _shape_text(layer), params]
    if linked:
        row.append(_connections(layer, relevant))
    if show_trainable:
        row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
    rows = [row]
    if expand and getattr(layer, "_is_model", False):
        for inner in layer._summary_layers()[0]:
            rows.extend(_layer_rows(inner, None, linked, expand, show_trainable, level + 1))
    return rows


def _format_shape(shape: Any) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _shape_text(layer: Any) -> str:
    """The output shape(s) of the layer's last call in a graph, else from its built shape."""
    if layer._inbound_nodes:
        from tinygrad_mlp.symbolic import flatten

        outputs = layer._inbound_nodes[-1].output_tensors
        shapes = [_format_shape(t.shape) for t in flatten(outputs)]
    elif layer.built:
        try:
            out = layer.output_shape
        except (ValueError, TypeError, AttributeError, NotImplementedError):
            return "?"
        shapes = [_format_shape(out)] if _is_shape(out) else [_format_shape(s) for s in out]
    else:
        return "?"
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in shape)


def _connections(layer: Any, relevant: Any) -> str:
    """``name[node][tensor]`` of every tensor the layer's calls in this model take."""
    parts = []
    for node in layer._inbound_nodes:
        if relevant is not None and all(node is not n for n in relevant):
            continue
        for tensor in node.input_tensors:
            source, node_index, tensor_index = tensor._keras_history
            parts.append(f"{source.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def _readable_size(nbytes: float) -> str:
    """Bytes in Keras' units: ``1.19 KB`` for 1216 bytes (powers of 1024)."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    i = 0
    while nbytes >= 1024 and i < len(units) - 1:
        nbytes /= 1024
        i += 1
    return f"{nbytes:.2f} {units[i]}"


def _ratio_reduce(total: int, widths: list[int]) -> list[int]:
    """Take ``total`` characters out of ``widths`` evenly, left to right, rounding half to even
    as Keras' table renderer does (``[34, 26, 16]`` less 4 is ``[33, 24, 15]``)."""
    out, remaining, parts = [], total, len(widths)
    for w in widths:
        take = min(w, round(remaining / parts))
        out.append(w - take)
        remaining -= take
        parts -= 1
    return out


def _column_widths(length: int, positions: Sequence[float], columns: int) -> list[int]:
    if len(positions) != columns:
        raise ValueError(
            f"positions must give {columns} column positions, received {list(positions)}"
        )
    if positions[-1] <= 1:
        positions = [int(p * length) for p in positions]
    widths, current = [], 0
    for p in positions:
        width = int(p) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    borders = columns + 1
    if sum(widths) + borders > length:
        widths = _ratio_reduce(sum(widths) + borders - length, widths)
    return widths


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap at spaces; a single word longer than the cell ends in an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = word if not current else current + " " + word
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word if len(word) <= width else word[: max(width - 1, 0)] + "…"
    lines.append(current)
    return lines


def _box_table(
    name: str,
    header: list[str],
    rows: list[list[str]],
    totals: list[str],
    length: int,
    positions: Sequence[float],
) -> list[str]:
    widths = _column_widths(length, positions, len(header))
    inner = [w - 2 for w in widths]
    right = {2}  # the parameter counts

    def rule(left: str, fill: str, mid: str, end: str) -> str:
        return left + mid.join(fill * w for w in widths) + end

    def row(cells: list[str], bar: str, wrap: bool = True) -> list[str]:
        wrapped = [_wrap(c, w) if wrap else [c] for c, w in zip(cells, inner, strict=True)]
        height = max(len(c) for c in wrapped)
        out = []
        for k in range(height):
            parts = []
            for i, (cell, w) in enumerate(zip(wrapped, inner, strict=True)):
                text = cell[k] if k < len(cell) else ""
                parts.append(" " + (text.rjust(w) if i in right else text.ljust(w)) + " ")
            out.append(bar + bar.join(parts) + bar)
        return out

    lines = [f'Model: "{name}"', rule("┏", "━", "┳", "┓")]
    lines += row(header, "┃")
    lines.append(rule("┡", "━", "╇", "┩"))
    for i, r in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines += row(r, "│")
    lines.append(rule("└", "─", "┴", "┘"))
    lines.extend(" " + t for t in totals)
    return lines


def _ascii_table(
    name: str,
    header: list[str],
    rows: list[list[str]],
    totals: list[str],
    line_length: int | None,
    positions: Sequence[float] | None,
) -> list[str]:
    defaults = (29, 26, 10, 30, 10)[: len(header)]
    widths = [max([w] + [len(r[i]) + 3 for r in rows]) for i, w in enumerate(defaults)]
    if line_length is not None or positions is not None:
        widths = _column_widths(
            line_length or sum(widths),
            positions or [sum(widths[: i + 1]) / sum(widths) for i in range(len(widths))],
            len(header),
        )
    total = sum(widths)

    def row(cells: list[str]) -> str:
        out = ""
        for cell, w in zip(cells, widths, strict=True):
            text = cell if len(cell) <= w - 2 else cell[: w - 3] + "~"
            out += (" " + text).ljust(w)
        return out

    lines = [f'Model: "{name}"', "_" * total, row(header), "=" * total]
    for i, r in enumerate(rows):
        if i:
            lines.append("")
        lines.append(row(r))
    lines += ["=" * total, *totals, "_" * total]
    return lines
