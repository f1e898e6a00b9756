"""What the tests compare against: PyTorch autograd for gradients.

``check`` runs the finite-difference half first, then the PyTorch half; where
PyTorch is missing the test is reported as skipped with the reason, after the
first half passed, never as a silent pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra.numpy import valid_tuple_axes

from tinygrad_mlp import Value
from tinygrad_mlp.testing import gradcheck

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None
    F = None

TORCH_MISSING = (
    "PyTorch is not installed (pip install torch==2.13.0, in the 'test' extra): "
    "the comparison with PyTorch did not run"
)
needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_MISSING)

RTOL = 1e-6  # agreement with PyTorch: same math in float64, different summation order
ATOL = 1e-12


def require_torch() -> None:
    """Skip the rest of the test, visibly, where PyTorch is missing."""
    if torch is None:
        pytest.skip(TORCH_MISSING)


def _data(x):
    """Float64 copy of an input's data (a float for scalar Values)."""
    d = x.data if isinstance(x, Value) else x
    return d if type(d) is float else np.array(d, dtype=np.float64)


def _requires_grad(x):
    return x.requires_grad if isinstance(x, Value) else True


def _upstream(shape):
    return np.random.default_rng(7).standard_normal(shape)


def assert_matches_torch(fn, torch_fn, *inputs, rtol=RTOL, atol=ATOL):
    """Forward values and gradients of ``fn`` equal PyTorch's for the same float64 inputs.

    NaN must stand where PyTorch has NaN (``equal_nan``), infinities likewise.
    """
    require_torch()
    datas = [_data(x) for x in inputs]
    flags = [_requires_grad(x) for x in inputs]
    ours = [Value(d, requires_grad=f) for d, f in zip(datas, flags, strict=True)]
    out = fn(*ours)
    theirs = [
        torch.tensor(d, dtype=torch.float64, requires_grad=f)
        for d, f in zip(datas, flags, strict=True)
    ]
    tout = torch_fn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=rtol, atol=atol)
    u = _upstream(out.shape)
    if out.requires_grad:
        out.backward(u)
    if tout.requires_grad:
        tout.backward(torch.as_tensor(u).reshape(tout.shape))
    for i, (v, t) in enumerate(zip(ours, theirs, strict=True)):
        if not v.requires_grad:
            continue
        expected = np.zeros(np.shape(v.data)) if t.grad is None else t.grad.numpy()
        got = v.grad if v.grad is not None else np.zeros(np.shape(v.data))
        np.testing.assert_allclose(
            got, expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )


def check(fn, *inputs, torch_fn=None):
    """The engine's gradient of ``fn`` agrees with finite differences and with PyTorch."""
    assert gradcheck(fn, *inputs)
    assert_matches_torch(fn, torch_fn or fn, *inputs)


def dims_of(axis, ndim):
    """PyTorch's ``dim`` for a NumPy ``axis`` (None means every axis)."""
    return tuple(range(ndim)) if axis is None else axis


def axes_for(ndim):
    """None, one axis (negative too), or a tuple of distinct axes."""
    return st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        valid_tuple_axes(ndim, min_size=1),
    )
