"""The chain's two variants over an array schedule as one compiled numba loop.

Used by :func:`yuma.simulate` with ``backend="numba"``: the whole run is a single call that
runs the numba backend's serial dense epoch (``yuma.backends.numba_dense.epoch_dense_into``)
epoch after epoch, writing straight into the per-epoch output arrays, so no Python runs
between epochs. Same results as the numba epoch called epoch by epoch (and, to round-off, as
the numpy reference).

:func:`available` says whether the numba backend's kernel is importable; when it is not,
:func:`yuma.simulate` falls back to calling :func:`yuma.epoch` once per epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams

__all__ = ["KernelMismatch", "available", "run_scan"]


class KernelMismatch(RuntimeError):
    """The numba backend's kernel no longer has the signature this loop was written for."""


try:  # the numba backend is optional, and its kernel may move: fall back when it is absent
    from numba import njit

    from yuma.backends.numba_dense import epoch_dense_into
except (ImportError, AttributeError):  # pragma: no cover - depends on the environment
    _AVAILABLE = False
else:
    _AVAILABLE = True


def available() -> bool:
    """True when the numba backend's serial dense epoch kernel can be imported."""
    return _AVAILABLE


def _scan_py(
    weights: Any, w_index: Any, stakes: Any, s_index: Any, bonds0: Any, permit0: Any,
    square: bool, kappa: float, beta: float, rate: float, yuma3: bool, liquid: bool,
    lo: float, hi: float, steep: float, max_validators: int, keep: bool,
    stake: Any, active_stake: Any, consensus: Any, ranks: Any, incentive: Any,
    dividends: Any, trust: Any, permit: Any, w_out: Any, bonds_out: Any, spare: Any,
) -> None:  # fmt: skip
    """Every epoch of the run, each written into row ``t`` of the output arrays."""
    n_epochs = w_index.shape[0]
    n_rows, n_cols = bonds0.shape
    active = np.ones(n_rows, dtype=np.bool_)
    outdated = np.zeros((0, 0), dtype=np.bool_)
    recent = np.zeros(n_cols, dtype=np.bool_)
    clipped = np.empty((n_rows, n_cols))
    server = np.empty(n_cols)
    validator = np.empty(n_rows)
    combined = np.empty(n_cols if square else n_rows + n_cols)
    w_scratch = np.empty((n_rows, n_cols))
    bonds_in = bonds0
    old_permit = permit0
    for t in range(n_epochs):
        w_buf = w_out[t] if keep else w_scratch
        # Without kept matrices two bond buffers take turns (input, output).
        b_buf = bonds_out[t] if keep else spare[t % 2]
        epoch_dense_into(
            weights[w_index[t]], stakes[s_index[t]], bonds_in, old_permit, active,
            outdated, recent, square, kappa, beta, rate, yuma3, liquid, lo, hi, steep,
            max_validators, stake[t], active_stake[t], w_buf, consensus[t], clipped,
            trust[t], ranks[t], incentive[t], b_buf, dividends[t], permit[t], server,
            validator, combined,
        )  # fmt: skip
        bonds_in = b_buf
        old_permit = permit[t]


_scan = njit(cache=True, nogil=True)(_scan_py) if _AVAILABLE else None


def run_scan(
    weights: FloatArray,
    w_index: Any,
    stakes: FloatArray,
    s_index: Any,
    bonds0: FloatArray,
    permit0: Any,
    params: YumaParams,
    *,
    square: bool,
    keep: bool,
) -> dict[str, Any]:
    """Run the loop. weights (K, V, N) with ``w_index`` (E,) picking each epoch's matrix;
    stakes (L, V) with ``s_index`` (E,); bonds0 (V, N); permit0 (V,) the first epoch's
    permits. ``params.yuma3`` and ``params.liquid_alpha`` select the branch. Returns the
    per-epoch arrays by name (``weights``/``bonds`` are None unless ``keep``) and
    ``final_bonds``."""
    if _scan is None:
        raise ImportError("the numba backend's dense epoch kernel is not available")
    scan = _scan
    e = int(w_index.shape[0])
    v, n = bonds0.shape
    out: dict[str, Any] = {
        "stake": np.empty((e, v)),
        "active_stake": np.empty((e, v)),
        "consensus": np.empty((e, n)),
        "ranks": np.empty((e, n)),
        "incentive": np.empty((e, n)),
        "dividends": np.empty((e, v)),
        "validator_trust": np.empty((e, v)),
        "validator_permit": np.empty((e, v), dtype=np.bool_),
    }
    w_out = np.empty((e, v, n)) if keep else np.empty((0, v, n))
    bonds_out = np.empty((e, v, n)) if keep else np.empty((0, v, n))
    spare = np.empty((2, v, n))
    from numba.core.errors import TypingError

    args = (
        np.ascontiguousarray(weights, dtype=np.float64), np.asarray(w_index, dtype=np.int64),
        np.ascontiguousarray(stakes, dtype=np.float64), np.asarray(s_index, dtype=np.int64),
        np.ascontiguousarray(bonds0, dtype=np.float64), np.asarray(permit0, dtype=np.bool_),
        square, params.kappa, params.bonds_penalty, params.bonds_ema_rate, params.yuma3,
        params.liquid_alpha, params.alpha_low, params.alpha_high,
        params.alpha_sigmoid_steepness, params.max_allowed_validators, keep,
        out["stake"], out["active_stake"], out["consensus"], out["ranks"], out["incentive"],
        out["dividends"], out["validator_trust"], out["validator_permit"], w_out, bonds_out,
        spare,
    )  # fmt: skip
    try:
        scan(*args)
    except TypingError as exc:
        raise KernelMismatch(str(exc)) from exc
    out["weights"] = w_out if keep else None
    out["bonds"] = bonds_out if keep else None
    out["final_bonds"] = (bonds_out[-1] if keep else spare[(e - 1) % 2]).copy()
    return out
