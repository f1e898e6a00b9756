"""The course examples and the demo run as a learner runs them (quick mode)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("[0-9][0-9]_*.py"))


def load(name: str):
    path = next(p for p in EXAMPLES if p.stem.startswith(name))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_exercise_has_an_example():
    assert [p.name[:2] for p in EXAMPLES] == ["01", "02", "03", "04", "05", "06", "07", "08"]


def test_single_neuron_forward_pass_is_about_0_82(tmp_path):
    a = load("01").main(out_dir=str(tmp_path))
    assert a == pytest.approx(1 / (1 + np.exp(-1.5)))
    assert (tmp_path / "neuron_graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backprop_by_hand_lowers_the_loss(tmp_path):
    before, after = load("02").main(out_dir=str(tmp_path))
    assert after < before
    assert (tmp_path / "backprop_2-2-2.png").read_bytes()[:4] == b"\x89PNG"


def test_perceptron_learns_the_line_and_fails_on_the_circle(tmp_path):
    pytest.importorskip("matplotlib")
    assert load("03").main(out_dir=str(tmp_path), quick=True) > 0.95
    assert load("04").main(out_dir=str(tmp_path), quick=True) < 0.8


def test_keras_way_learns_the_circle(tmp_path):
    pytest.importorskip("matplotlib")
    assert load("05").main(out_dir=str(tmp_path), quick=True) > 0.9
    for name in ("circle_model.png", "circle_history.png", "circle_boundary.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_feature_importance_ranks_noise_last(tmp_path):
    pytest.importorskip("matplotlib")
    ig = load("07").main(out_dir=str(tmp_path), quick=True)
    assert min(ig[:2]) > max(ig[2:])


def test_course_program_xor_and_softmax_on_real_data(tmp_path):
    pytest.importorskip("sklearn")
    results = load("08").main(out_dir=str(tmp_path), quick=True)
    assert results["iris"] > 0.95
    assert results["digits"] > 0.96


def test_demo_runs_end_to_end(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_mlp", "demo", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch" in result.stdout or "loss:" in result.stdout
    assert str(out.resolve()) in result.stdout
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {"neuron_graph.png", "circle_model.png", "circle_boundary.png"} <= set(pngs)
