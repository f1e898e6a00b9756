"""The back-propagation and training pages, loaded in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_backprop import course_graph

from tinygrad_mlp import backprop
from tinygrad_mlp.datasets import circle
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.optimizers import SGD
from tinygrad_mlp.pages import _num

BROWSER = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
    None,
)
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium on this machine (.ci/run installs Debian's chromium): the page was "
    "not loaded in a browser",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=3000",
]


def browse(page: Path, tmp_path: Path, *extra: str, fragment: str = "") -> str:
    result = subprocess.run(
        [
            BROWSER,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            *extra,
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def assert_not_blank(png: Path) -> None:
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    not_white = (pixels < 0.95).any(axis=-1).mean()
    assert 0.02 < not_white < 0.98, f"{not_white:.3f} of the screenshot is not white"
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # colours, not one flat fill


def page_data(page: Path) -> dict:
    text = page.read_text()
    return json.loads(
        re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S)
        .group(1)
        .replace("<\\/", "</")
    )


def test_the_pages_are_self_contained(tmp_path):
    loss, _, _ = course_graph()
    page = Path(backprop.step_through(loss, to_file=tmp_path / "backprop.html"))
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text and "url(" not in text
    assert "http" not in text.replace("http://www.w3.org/2000/svg", "")
    data = page_data(page)
    # the forward pass visits every recorded Value; backward revisits them in the engine's order
    assert len(data["forward"]) == len(data["backward"])
    assert [s["node"] for s in data["backward"]] == data["forward"][::-1]


@needs_browser
def test_step_through_in_chromium(tmp_path):
    loss, W, V = course_graph()
    page = Path(backprop.step_through(loss, to_file=tmp_path / "backprop.html"))
    data = page_data(page)
    dom = browse(page, tmp_path, "--dump-dom", fragment="#end")
    assert 'data-ready="true"' in dom  # the script ran to its end
    drawn = set(int(k) for k in re.findall(r'<g class="node[^"]*"[^>]*data-node="(\d+)"', dom))
    assert drawn == {n["id"] for n in data["nodes"]}  # every graph node is in the DOM
    loss.backward()
    rows = dict(
        re.findall(r'<tr data-node="\d+"><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>', dom)
    )
    for w in [w for row in W + V for w in row]:
        assert rows[w.label] == _num(w.grad)  # every final gradient, as backward() leaves it
    assert "step 68 of 68" in dom or re.search(r"step (\d+) of \1", dom)
    assert "a leaf: its gradient is final" in dom  # the last backward step is a leaf
    middle = browse(page, tmp_path, "--dump-dom", fragment="#45")
    assert "dL/dv21" in middle
    browse(
        page,
        tmp_path,
        "--window-size=1400,900",
        f"--screenshot={tmp_path / 'shot.png'}",
        fragment="#40",
    )
    assert_not_blank(tmp_path / "shot.png")


@needs_browser
def test_training_replay_in_chromium(tmp_path):
    x, y = circle(n=200, seed=0)
    x = (x - x.mean(0)) / x.std(0)
    model = Sequential([Dense(6, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(0.1, 0.9))
    page = Path(backprop.training_replay(model, x, y, epochs=8, to_file=tmp_path / "train.html"))
    data = page_data(page)
    assert len(data["frames"]) == 9
    np.testing.assert_allclose(
        np.asarray(data["frames"][-1]["weights"][0]), model.get_weights()[0], atol=1e-4
    )
    dom = browse(page, tmp_path, "--dump-dom", fragment="#end")
    assert 'data-ready="true"' in dom and "epoch 8 of 8" in dom
    epochs = re.findall(r'<tr data-epoch="(\d+)"><td>\d+</td><td>([^<]+)</td>', dom)
    assert [int(e) for e, _ in epochs] == list(range(1, 9))
    for (_, shown), frame in zip(epochs, data["frames"][1:], strict=True):
        assert float(shown) == pytest.approx(frame["loss"], rel=1e-3)
    assert dom.count('class="weight"') == 2 * 6 + 6 * 1  # every weight is an edge of the network
    assert dom.count('class="neuron"') == 2 + 6 + 1
    assert 'id="loss-line"' in dom and 'data-epochs="8"' in dom
    browse(
        page,
        tmp_path,
        "--window-size=1200,800",
        f"--screenshot={tmp_path / 'shot.png'}",
        fragment="#end",
    )
    assert_not_blank(tmp_path / "shot.png")


def test_training_replay_refuses_bad_input(tmp_path):
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    with pytest.raises(RuntimeError, match="compiled"):
        backprop.training_replay(model, np.zeros((4, 2)), np.zeros(4), to_file=tmp_path / "t.html")
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        backprop.training_replay(model, np.zeros((4, 3)), np.zeros(4), to_file=tmp_path / "t.html")
    with pytest.raises(ValueError, match="epochs"):
        backprop.training_replay(model, np.zeros((4, 2)), np.zeros(4), epochs=0)
    assert not (tmp_path / "t.html").exists()
