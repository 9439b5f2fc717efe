"""Every parallel numba kernel runs only its explicit ``prange`` loops on threads.

numba's plain ``parallel=True`` also makes each array expression of a kernel a parallel region
(a fork and a join of the threads each), which cost the dense epoch 23-38 µs per call. These
tests check that every parallel kernel of the package is compiled with
:data:`yuma.backends._nb_common.PRANGE_ONLY`, that the option keeps working for a second
signature of the same kernel (numba empties a dict option as it reads it, so a dict would not),
and, in the slow step, that the dense epoch's driver compiles to exactly its five ``prange``
passes.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numba import njit, prange  # noqa: E402

from yuma.backends._nb_common import PRANGE_ONLY  # noqa: E402


def _parallel_dispatchers() -> dict[str, Any]:
    """Every dispatcher compiled with a ``parallel`` option, in every module of the package
    that compiles numba kernels (the list the on-disk cache check keeps)."""
    from yuma._nb_cache import KERNEL_SOURCES

    found = {}
    for source in KERNEL_SOURCES:
        name = "yuma." + source.removesuffix(".py").replace("/", ".")
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            options = getattr(value, "targetoptions", None)
            if isinstance(options, dict) and options.get("parallel"):
                found[f"{name}.{attr}"] = value
    return found


def _parfors(dispatcher: Any) -> list[int]:
    """Parallel regions of each compiled signature (before fusion)."""
    return [
        len(dispatcher.get_metadata(sig)["parfor_diagnostics"].initial_parfors)
        for sig in dispatcher.signatures
    ]


def _toy(a: Any) -> float:
    # One prange loop, and three array expressions plain parallel=True would make parallel.
    s = np.zeros(4)
    for t in prange(4):
        s[t] = a[t] * 2
    return float(s.sum() + np.ones(3).sum())


def test_every_parallel_kernel_runs_only_its_prange_loops() -> None:
    found = _parallel_dispatchers()
    # The dense epoch, the batch, seven sparse passes and four exact-replay passes.
    assert len(found) == 13, sorted(found)
    wrong = {name: d.targetoptions["parallel"] for name, d in found.items()}
    wrong = {name: opt for name, opt in wrong.items() if opt != PRANGE_ONLY}
    assert not wrong


def test_prange_only_holds_for_every_signature() -> None:
    only = njit(parallel=PRANGE_ONLY)(_toy)
    everything = njit(parallel=True)(_toy)
    for a in (np.arange(4.0), np.arange(4), np.arange(4, dtype=np.float32)):
        assert only(a) == everything(a) == 2 * float(a.sum()) + 3.0
    assert _parfors(only) == [1, 1, 1]
    # Without the option numba adds regions of its own (the test would notice if it stopped).
    assert all(k > 1 for k in _parfors(everything))


@pytest.mark.slow
def test_dense_epoch_driver_has_exactly_its_five_prange_passes() -> None:
    from yuma.backends import numba_dense as nd
    from yuma.inputs import prepare_inputs
    from yuma.params import YumaParams

    # A fresh, uncached copy of the driver, compiled as _compiled(parallel=True) does, so
    # that numba's diagnostics of this compilation exist.
    fn = types.FunctionType(
        nd._epoch_passes.__code__, nd._epoch_passes.__globals__, "_epoch_passes", None, None
    )
    fresh = njit(parallel=PRANGE_ONLY)(fn)
    rng = np.random.default_rng(3)
    n = 12
    w = rng.random((n, n))
    stake = rng.random(n) + 0.1
    params = YumaParams(max_allowed_validators=n)
    inputs, p = prepare_inputs(w, stake, None, params)
    W, bonds, outdated = nd._dense_arrays(inputs)
    x = nd.DenseIn(
        W, inputs.stake, bonds, nd._NO_PERMIT, inputs.active, outdated, inputs.recently_registered
    )
    dp = nd.dense_params(p, square=True, yuma3=True, liquid=False)
    out = nd.allocate(n, n, True)
    fresh(x, dp, out, 2)
    # weights, consensus, clip and EMA, the original Yuma's EMA, dividends
    assert _parfors(fresh) == [5]
    # and the same numbers as the serial epoch
    ref = nd.allocate(n, n, True)
    nd._serial_entry(tuple(x), tuple(dp), tuple(ref))
    np.testing.assert_allclose(out.bonds, ref.bonds, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(out.consensus, ref.consensus)
