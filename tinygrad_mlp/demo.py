"""The course demo: ``python -m tinygrad_mlp demo`` runs the course's exercises in order.

Each exercise is a short script in ``examples/`` that a learner can read on its
own; the demo runs their ``main(out_dir, quick)`` one after another, so the demo
and the examples can never disagree.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"tinygrad_mlp_example_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the example {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(out_dir: str = "tinygrad_mlp_demo", quick: bool = False) -> list[str]:
    """Run every course exercise; returns the pictures written to ``out_dir``."""
    scripts = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))
    if not scripts:
        raise FileNotFoundError(
            f"the course examples were not found in {EXAMPLES}; the demo runs from a "
            'source checkout installed with pip install -e ".[dev,plot,data]"'
        )
    os.makedirs(out_dir, exist_ok=True)
    start = time.perf_counter()
    for script in scripts:
        module = _load(script)
        title = (module.__doc__ or script.stem).strip().splitlines()[0]
        print(f"\n{'=' * 78}\n{title}\n{'=' * 78}")
        module.main(out_dir=out_dir, quick=quick)
    pictures = sorted(str(p) for p in Path(out_dir).glob("*") if p.suffix in {".png", ".svg"})
    print(f"\n{'=' * 78}")
    elapsed = time.perf_counter() - start
    print(f"demo finished in {elapsed:.1f}s; pictures in {os.path.abspath(out_dir)}:")
    for picture in pictures:
        print(f"  {picture}")
    return pictures
