"""A built wheel, installed as from PyPI into a fresh venv, runs the course demo."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_runs_the_demo_from_an_empty_folder(tmp_path):
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)]
    try:
        import setuptools  # noqa: F401 - build with this environment's setuptools, offline
    except ImportError:
        pass
    else:
        build.insert(4, "--no-build-isolation")
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("tinygrad_mlp-*.whl")

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(python), "-m", "tinygrad_mlp", "demo", "--quick"],
        cwd=empty,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    out = result.stdout
    assert (
        "site-packages"
        in subprocess.run(
            [str(python), "-c", "import tinygrad_mlp; print(tinygrad_mlp.__file__)"],
            cwd=empty,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    )  # the installed wheel ran, not the checkout
    assert "Exercise 8" in out and "demo finished" in out
    for figure in ("0.82", "0.90", "0.86", "0.39", "0.499", "0.491", "0.388"):
        assert figure in out, figure
    pictures = empty / "tinygrad_mlp_demo"
    assert (pictures / "neuron_graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (pictures / "backprop_2-2-2.png").read_bytes()[:4] == b"\x89PNG"
