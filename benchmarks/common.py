"""Shared helpers for the benchmarks: best-of-N timing and plain-text tables.

Timing follows ``timeit``'s advice: run the workload a few times to warm up,
then take the *best* of several repeats (the minimum is the run least disturbed
by other processes, which matters on a shared machine).
"""

from __future__ import annotations

import gc
import importlib
import platform
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 5, number: int = 1, warmup: int = 1) -> float:
    """Seconds per call of ``fn``: the best over ``repeat`` runs of ``number`` calls each.

    The garbage collector stays on (a library's real cost includes it).
    """
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def interleaved_best(
    fns: dict[str, Callable[[], Any]], repeat: int = 5, number: int = 1, warmup: int = 1
) -> dict[str, float]:
    """Seconds per call of each ``fn``, best over ``repeat`` rounds that run them in turn.

    Every round times each function once (``number`` calls), rotating which goes
    first, after a ``gc.collect()`` so that one engine's garbage is not collected
    on another's clock: a disturbed moment hits every engine alike, not one.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    names = list(fns)
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            start = time.perf_counter()
            for _ in range(number):
                fns[name]()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def optional_import(name: str) -> ModuleType | None:
    """Import a peer library, or print why it is skipped and return None."""
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"[skip] {name} is not installed; its rows are left out")
        return None


def ratio_text(ours: float, theirs: float, name: str) -> str:
    """'2.6x faster than micrograd' from two times (seconds; smaller is better)."""
    if ours <= 0 or theirs <= 0:
        return ""
    r = theirs / ours
    if r >= 1:
        return f"tinygrad_mlp is {r:.1f}x faster than {name}"
    return f"tinygrad_mlp is {1 / r:.1f}x slower than {name}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A fixed-width text table (left-aligned first column, right-aligned numbers)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        parts = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 100:
            return f"{x:,.0f}"
        if abs(x) >= 1:
            return f"{x:.2f}"
        return f"{x:.3g}"
    return str(x)


def machine_line() -> str:
    """One line describing where the numbers were taken."""
    import numpy as np

    return (
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()} {platform.system()}, gc thresholds {gc.get_threshold()}, "
        f"{_cpu_count()} CPU(s)"
    )


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def ensure_repo_on_path() -> None:
    """Let ``python benchmarks/x.py`` import the package from a checkout."""
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
