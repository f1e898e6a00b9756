"""The course demo: ``python -m tinygrad_mlp demo`` runs the course's exercises in order.

The exercises live in the package (``tinygrad_mlp.course``), so the demo runs
from any install, a built wheel included; ``examples/`` has a script per
exercise that runs the same module. An exercise whose pictures need an extra
that is not installed (matplotlib: ``pip install "tinygrad_mlp[plot]"``) says
so and the demo goes on.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path

from tinygrad_mlp.course import EXERCISES


def run_demo(out_dir: str = "tinygrad_mlp_demo", quick: bool = False) -> list[str]:
    """Run every course exercise; returns the pictures written to ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    skipped = []
    for name in EXERCISES:
        module = importlib.import_module(f"tinygrad_mlp.course.{name}")
        title = (module.__doc__ or name).strip().splitlines()[0]
        print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")
        try:
            module.main(out_dir=out_dir, quick=quick)
        except ImportError as error:  # an optional extra (matplotlib, scikit-learn) is missing
            print(f"(the rest of this exercise was skipped: {error})")
            skipped.append(name)
    pictures = sorted(
        str(p) for p in Path(out_dir).glob("*") if p.suffix in {".png", ".svg", ".html"}
    )
    print(f"\n{'=' * 78}")
    elapsed = time.perf_counter() - start
    print(f"demo finished in {elapsed:.1f}s; pictures in {os.path.abspath(out_dir)}:")
    for picture in pictures:
        print(f"  {picture}")
    if skipped:
        print(
            f"{len(skipped)} exercise(s) stopped early for a missing extra: "
            'pip install "tinygrad_mlp[plot,data]" draws everything'
        )
    return pictures
