"""The course examples and the demo run as a learner runs them (quick mode)."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("[0-9][0-9]_*.py"))


def load(name: str):
    """The course module of exercise ``name`` ('01' ... '08')."""
    from tinygrad_mlp.course import EXERCISES

    return importlib.import_module(
        "tinygrad_mlp.course." + next(e for e in EXERCISES if e.startswith(f"ex{name}"))
    )


def test_every_exercise_has_an_example_that_runs_its_course_module():
    from tinygrad_mlp.course import EXERCISES

    course = EXAMPLES[:8]  # 09 on: the library beyond the course (hyperparameter search)
    assert [p.name[:2] for p in course] == ["01", "02", "03", "04", "05", "06", "07", "08"]
    for script, module in zip(course, EXERCISES, strict=True):
        assert f"from tinygrad_mlp.course.{module} import main" in script.read_text()


def test_an_example_script_runs_as_a_learner_runs_it(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES[0]), str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0.8176" in result.stdout and (tmp_path / "neuron_graph.png").exists()


def test_single_neuron_forward_pass_is_about_0_82(tmp_path):
    a = load("01").main(out_dir=str(tmp_path))
    assert a == pytest.approx(1 / (1 + np.exp(-1.5)))
    assert (tmp_path / "neuron_graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SLIDE_FIGURES = ["0.82", "0.90", "0.86", "0.39", "0.499", "0.491", "0.998", "0.018", "0.103",
                 "0.009", "0.499", "0.817", "0.902", "0.858", "0.388"]  # fmt: skip


def test_backprop_by_hand_prints_every_slide_figure_beside_the_computed_one(tmp_path, capsys):
    load("02").main(out_dir=str(tmp_path))
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.search(r"\d\.\d{4}\s+\d\.\d+$", line)]
    assert [row.split()[-1] for row in rows] == SLIDE_FIGURES
    for row in rows:
        computed, shown = row.split()[-2:]
        # the slides round (or cut) each step to 2-3 digits as they go: within 1.5 last digits
        unit = 10.0 ** -len(shown.split(".")[1])
        assert abs(float(computed) - float(shown)) <= 1.5 * unit, row
    assert "0.5 - 0.1*(0.90-0.7)*(0.90*(1-0.90))*0.82" in out  # the slide's formula, with numbers
    assert "the Keras route" in out


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
    # the lessons as pictures
    lessons = {
        "activations.png", "batch_stochastic_minibatch.png", "under_over_fitting.png",
        "early_stopping_history.png", "optimizers.png", "perceptron_on_circle.png",
        "confusion_matrix.png", "vanishing_gradients.png", "deep_sigmoid_graph.png",
        "deep_relu_graph.png", "shap_summary.png", "learning_rates.png",
    }  # fmt: skip
    assert lessons <= set(pngs), lessons - set(pngs)
    for name in lessons:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "backprop_2-2-2.html").exists() and (out / "circle_training.html").exists()


@pytest.mark.slow
def test_the_hyperparameter_search_example_runs_on_a_local_dask_cluster():
    pytest.importorskip("dask.distributed", reason="dask[distributed] is in the 'test' extra")
    script = ROOT / "examples" / "09_hyperparameter_search.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "same best parameters: True" in result.stdout
