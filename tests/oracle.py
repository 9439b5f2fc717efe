"""A naive oracle for one Yuma Consensus epoch: plain loops over rows and columns, in float.

Written from the specification (``shared/spec/yuma-epoch.md``: §4 the sparse path
``epoch_mechanism``, §6 the dense path ``epoch_dense_mechanism``, §5 liquid alpha) and checked
against the chain's source (``pallets/subtensor/src/epoch/run_epoch.rs``, ``math.rs``), **not**
against the library: it imports nothing from ``yuma`` and uses no vectorised arithmetic, so it is
an independent check of every backend.

Inputs follow the public semantics of :func:`yuma.epoch` (``square`` is its ``layout="uid"``,
``square=False`` is ``layout="bipartite"``). Matrices are plain Python:

* ``path="dense"``: ``weights`` and ``bonds`` are ``R x C`` nested sequences of numbers;
* ``path="sparse"``: they are ``{(i, j): value}`` dicts whose keys are the **present** entries
  (stored zeros included), and ``shape=(R, C)`` must be given.

``outdated`` is always an ``R x C`` nested sequence of bools (True = drop the weight). The
result is a dict of every intermediate quantity, named as in the chain's code; matrices come
back in the input's form (nested lists on the dense path, entry dicts on the sparse path; an
absent key is an absent entry). ``rate`` is a float (fixed EMA rate) or an ``R x C`` nested list
(liquid alpha computes a rate for every cell on both paths).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Dense = list[list[float]]
Entries = dict[tuple[int, int], float]

__all__ = ["oracle_epoch", "to_dense"]


def to_dense(m: Dense | Entries, shape: tuple[int, int]) -> Dense:
    """A dense nested list from either matrix form (absent entries read as 0)."""
    rows, cols = shape
    if isinstance(m, dict):
        out = [[0.0] * cols for _ in range(rows)]
        for (i, j), v in m.items():
            out[i][j] = v
        return out
    return [list(row) for row in m]


# --------------------------------------------------------------------------------------------
# Vector helpers (math.rs semantics in float)
# --------------------------------------------------------------------------------------------


def _normalize(x: list[float]) -> list[float]:
    """``inplace_normalize``: divide by the sum unless the sum is 0."""
    s = 0.0
    for v in x:
        s += v
    if s == 0.0:
        return list(x)
    return [v / s for v in x]


def _topk_nonzero(stake: list[float], k: int) -> list[bool]:
    """``is_topk_nonzero``: non-zero stakes; if n >= k, only the k largest (ties: higher uid)."""
    n = len(stake)
    res = [s != 0.0 for s in stake]
    if n < k:
        return res
    # Stable ascending sort by stake (equal stakes keep uid order), then drop the first n - k.
    order = list(range(n))
    for a in range(1, n):  # insertion sort: stable, no library call
        b = a
        while b > 0 and stake[order[b - 1]] > stake[order[b]]:
            order[b - 1], order[b] = order[b], order[b - 1]
            b -= 1
    for t in range(n - k):
        res[order[t]] = False
    return res


def _weighted_median(stakes: list[float], scores: list[float], kappa: float) -> float:
    """The closed form of the chain's ``weighted_median`` (spec §4.7.3).

    ``stakes`` are the positive active stakes of the voters (not yet normalised), ``scores`` each
    voter's weight on the column. With ``u`` the normalised stakes, ``U = Σu`` and ``m = U − κ``:
    the smallest distinct score whose cumulative stake (scores <= it) exceeds ``m``; the largest
    score if none does; 0 with no voter.
    """
    if not stakes:
        return 0.0
    u = _normalize(stakes)
    total = 0.0
    for v in u:
        total += v
    minority = total - kappa
    distinct: list[float] = []
    for s in scores:
        if s not in distinct:
            distinct.append(s)
    distinct.sort()
    for value in distinct:
        cumulative = 0.0
        for r in range(len(u)):
            if scores[r] <= value:
                cumulative += u[r]
        if cumulative > minority:
            return value
    return distinct[-1]


def _alpha_sigmoid(c: float, w: float, b: float, lo: float, hi: float, steep: float) -> float:
    """Liquid alpha 2 (spec §5): the per-cell EMA rate from consensus, weight and bond."""
    diff_buy = min(max(w - c, 0.0), 1.0)
    diff_sell = min(max(b - w, 0.0), 1.0)
    x = diff_buy if w >= b else diff_sell
    # exp_safe clamps its argument to [-20, 20]; the chain's exponent is (steep / -100)(x - 1/2).
    arg = min(max((steep / -100.0) * (x - 0.5), -20.0), 20.0)
    sig = 1.0 / (1.0 + math.exp(arg))
    alpha = lo + sig * (hi - lo)
    return min(max(alpha, lo), hi)


def _col_normalize(m: Dense) -> Dense:
    """``inplace_col_normalize``: divide each column by its sum where the sum is not 0."""
    rows = len(m)
    cols = len(m[0]) if rows else 0
    out = [list(r) for r in m]
    for j in range(cols):
        s = 0.0
        for i in range(rows):
            s += m[i][j]
        if s != 0.0:
            for i in range(rows):
                out[i][j] = m[i][j] / s
    return out


def _col_max_upscale(m: Dense) -> Dense:
    """``inplace_col_max_upscale``: divide each column by its maximum where it is not 0."""
    rows = len(m)
    cols = len(m[0]) if rows else 0
    out = [list(r) for r in m]
    for j in range(cols):
        top = 0.0
        for i in range(rows):
            top = max(top, m[i][j])
        if top != 0.0:
            for i in range(rows):
                out[i][j] = m[i][j] / top
    return out


def _entries_col_normalize(m: Entries, cols: int) -> Entries:
    sums = [0.0] * cols
    for (_, j), v in m.items():
        sums[j] += v
    return {(i, j): (v / sums[j] if sums[j] != 0.0 else v) for (i, j), v in m.items()}


def _entries_col_max_upscale(m: Entries, cols: int) -> Entries:
    tops = [0.0] * cols
    for (_, j), v in m.items():
        tops[j] = max(tops[j], v)
    return {(i, j): (v / tops[j] if tops[j] != 0.0 else v) for (i, j), v in m.items()}


# --------------------------------------------------------------------------------------------
# The epoch
# --------------------------------------------------------------------------------------------


def _get(params: Any, name: str) -> Any:
    return params[name] if isinstance(params, Mapping) else getattr(params, name)


def oracle_epoch(
    weights: Sequence[Sequence[float]] | Mapping[tuple[int, int], float],
    stake: Sequence[float],
    bonds: Sequence[Sequence[float]] | Mapping[tuple[int, int], float] | None,
    params: Any,
    *,
    validator_permit: Sequence[bool] | None = None,
    active: Sequence[bool] | None = None,
    outdated: Sequence[Sequence[bool]] | None = None,
    recently_registered: Sequence[bool] | None = None,
    owner_uid: int | None = None,
    square: bool = True,
    path: str = "dense",
    shape: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """One epoch by plain loops; see the module docstring for the input and output forms.

    ``params`` is a ``YumaParams`` (or a mapping with the same field names): ``kappa``,
    ``bonds_moving_average``, ``bonds_penalty``, ``yuma3``, ``liquid_alpha``, ``alpha_low``,
    ``alpha_high``, ``alpha_sigmoid_steepness``, ``max_allowed_validators``.
    """
    if path not in ("dense", "sparse"):
        raise ValueError(f"path must be 'dense' or 'sparse', got {path!r}")
    sparse = path == "sparse"
    if sparse:
        if shape is None:
            raise ValueError("shape is required on the sparse path")
        rows, cols = shape
    else:
        rows = len(weights)
        cols = len(weights[0]) if rows else 0  # type: ignore[index,arg-type]
    if square and rows != cols:
        raise ValueError("square layout needs R == C")
    kappa = float(_get(params, "kappa"))
    beta = float(_get(params, "bonds_penalty"))
    yuma3 = bool(_get(params, "yuma3"))
    liquid = bool(_get(params, "liquid_alpha"))
    lo = float(_get(params, "alpha_low"))
    hi = float(_get(params, "alpha_high"))
    steep = float(_get(params, "alpha_sigmoid_steepness"))
    k = int(_get(params, "max_allowed_validators"))
    fixed_rate = 1.0 - float(_get(params, "bonds_moving_average"))
    # The owner has rules only on the sparse path (spec §6.1, §6.2).
    owner = owner_uid if sparse else None

    # §4.3 Stake: normalised (no threshold here: YumaParams has none).
    stake_n = _normalize([float(s) for s in stake])

    # §4.4 Permits. Old permits (this epoch's): given, or the default top-k; the sparse path
    # forces the owner's. New permits: top-k non-zero, plus the owner on the sparse path.
    new_permit = _topk_nonzero(stake_n, k)
    if owner is not None:
        new_permit[owner] = True
    if validator_permit is None:
        old_permit = _topk_nonzero(stake_n, k)
    else:
        old_permit = [bool(p) for p in validator_permit]
    if owner is not None:
        old_permit[owner] = True
    is_active = [True] * rows if active is None else [bool(a) for a in active]

    # §4.5 Active stake.
    active_stake = _normalize(
        [stake_n[i] if (is_active[i] and old_permit[i]) else 0.0 for i in range(rows)]
    )

    def is_outdated(i: int, j: int) -> bool:
        return outdated is not None and bool(outdated[i][j])

    recent = (
        [False] * cols if recently_registered is None else [bool(r) for r in recently_registered]
    )

    if sparse:
        return _sparse_rest(
            weights, bonds, rows, cols, square, owner, old_permit, new_permit, stake_n,
            active_stake, is_outdated, recent, kappa, beta, yuma3, liquid, lo, hi, steep,
            fixed_rate,
        )  # fmt: skip

    # ---------------- dense path (epoch_dense_mechanism) ----------------
    w_in = [[float(v) for v in row] for row in weights]  # type: ignore[union-attr]
    b_in = (
        [[0.0] * cols for _ in range(rows)]
        if bonds is None
        else [[float(v) for v in row] for row in bonds]  # type: ignore[union-attr]
    )

    # §4.6 a-c, e (dense): permit rows, every self-weight (the owner's too, §6.2), outdated.
    w = [[0.0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            if not old_permit[i] or (square and i == j) or is_outdated(i, j):
                continue
            w[i][j] = w_in[i][j]
    for i in range(rows):
        s = 0.0
        for j in range(cols):
            s += w[i][j]
        if s > 0.0:
            for j in range(cols):
                w[i][j] = w[i][j] / s

    # §4.7 Consensus: weighted median of each column over the positive active stakes.
    voters = [i for i in range(rows) if active_stake[i] > 0.0]
    consensus = [
        _weighted_median([active_stake[i] for i in voters], [w[i][j] for i in voters], kappa)
        for j in range(cols)
    ]

    # §4.8 Clip at consensus (dense: min), validator trust = row sums.
    clipped = [[min(consensus[j], w[i][j]) for j in range(cols)] for i in range(rows)]
    vtrust = []
    for i in range(rows):
        s = 0.0
        for j in range(cols):
            s += clipped[i][j]
        vtrust.append(s)

    # §4.9 Ranks, incentive.
    ranks = []
    for j in range(cols):
        s = 0.0
        for i in range(rows):
            s += active_stake[i] * clipped[i][j]
        ranks.append(s)
    incentive = _normalize(ranks)

    # §4.10 Weights for bonds (dense interpolate keeps every cell).
    if beta == 0.0:
        wb = [list(r) for r in w]
    elif beta == 1.0:
        wb = [list(r) for r in clipped]
    else:
        wb = [
            [w[i][j] + beta * (clipped[i][j] - w[i][j]) for j in range(cols)] for i in range(rows)
        ]

    # Previous bonds with recently registered columns zeroed (inplace_mask_cols).
    masked = [[0.0 if recent[j] else b_in[i][j] for j in range(cols)] for i in range(rows)]

    rate: float | Dense
    if yuma3:
        if liquid and any(c != 0.0 for c in consensus):
            rate = [
                [
                    _alpha_sigmoid(consensus[j], wb[i][j], masked[i][j], lo, hi, steep)
                    for j in range(cols)
                ]
                for i in range(rows)
            ]
            # mat_ema_alpha: min(1, (1 − α)·old + max(0, α·new)) in every cell (§6.5).
            ema = [
                [
                    min(
                        1.0,
                        (1.0 - rate[i][j]) * masked[i][j] + max(0.0, rate[i][j] * wb[i][j]),
                    )
                    for j in range(cols)
                ]
                for i in range(rows)
            ]
        else:
            rate = fixed_rate
            ema = [
                [fixed_rate * wb[i][j] + (1.0 - fixed_rate) * masked[i][j] for j in range(cols)]
                for i in range(rows)
            ]
        ema_norm = _col_normalize(ema)
        dividends_raw = []
        for i in range(rows):
            s = 0.0
            for j in range(cols):
                s += ema_norm[i][j] * incentive[j]
            dividends_raw.append(s * active_stake[i])
        dividends = _normalize(dividends_raw)
        ema_bonds = ema
        new_bonds = [list(r) for r in ema]
    else:
        rate = fixed_rate
        b_norm = _col_normalize(masked)
        delta = _col_normalize(
            [[wb[i][j] * active_stake[i] for j in range(cols)] for i in range(rows)]
        )
        ema = _col_normalize(
            [
                [fixed_rate * delta[i][j] + (1.0 - fixed_rate) * b_norm[i][j] for j in range(cols)]
                for i in range(rows)
            ]
        )
        dividends_raw = []
        for i in range(rows):
            s = 0.0
            for j in range(cols):
                s += ema[i][j] * incentive[j]
            dividends_raw.append(s)
        dividends = _normalize(dividends_raw)
        ema_bonds = ema
        new_bonds = _col_max_upscale(ema)

    # §6.6 Dense storage: new permit → the new row; lost permit → empty; else untouched.
    stored: Dense = []
    for i in range(rows):
        if new_permit[i]:
            stored.append(list(new_bonds[i]))
        elif old_permit[i]:
            stored.append([0.0] * cols)
        else:
            stored.append(list(b_in[i]))

    out: dict[str, Any] = {
        "stake": stake_n,
        "validator_permit": new_permit,
        "active_stake": active_stake,
        "weights": w,
        "consensus": consensus,
        "clipped_weights": clipped,
        "validator_trust": vtrust,
        "ranks": ranks,
        "incentive": incentive,
        "weights_for_bonds": wb,
        "masked_bonds": masked,
        "rate": rate,
        "ema_bonds": ema_bonds,
        "new_bonds": new_bonds,
        "dividends": dividends,
        "bonds": stored,
    }
    out.update(_emission(incentive, dividends, stake_n, active_stake, square))
    return out


def _sparse_rest(
    weights: Any,
    bonds: Any,
    rows: int,
    cols: int,
    square: bool,
    owner: int | None,
    old_permit: list[bool],
    new_permit: list[bool],
    stake_n: list[float],
    active_stake: list[float],
    is_outdated: Any,
    recent: list[bool],
    kappa: float,
    beta: float,
    yuma3: bool,
    liquid: bool,
    lo: float,
    hi: float,
    steep: float,
    fixed_rate: float,
) -> dict[str, Any]:
    """The sparse path (``epoch_mechanism``) from the weights on: present entries only."""
    w_in: Entries = {(int(i), int(j)): float(v) for (i, j), v in dict(weights).items()}
    b_in: Entries = (
        {} if bonds is None else {(int(i), int(j)): float(v) for (i, j), v in dict(bonds).items()}
    )

    # §4.6 a-c, e: permit rows dropped, self-weights dropped except the owner's, outdated dropped.
    w: Entries = {}
    for (i, j), v in w_in.items():
        if not old_permit[i]:
            continue
        if square and i == j and i != owner:
            continue
        if is_outdated(i, j):
            continue
        w[(i, j)] = v
    row_sum = [0.0] * rows
    for (i, _), v in w.items():
        row_sum[i] += v
    # Row normalise rows with a positive sum; zero entries are kept.
    w = {(i, j): (v / row_sum[i] if row_sum[i] > 0.0 else v) for (i, j), v in w.items()}

    def at(m: Entries, i: int, j: int) -> float:
        return m.get((i, j), 0.0)

    # §4.7 Consensus: an absent entry scores 0.
    voters = [i for i in range(rows) if active_stake[i] > 0.0]
    consensus = [
        _weighted_median([active_stake[i] for i in voters], [at(w, i, j) for i in voters], kappa)
        for j in range(cols)
    ]

    # §4.8 col_clip_sparse: above consensus → consensus, or removed when consensus is 0.
    clipped: Entries = {}
    for (i, j), v in w.items():
        if consensus[j] < v:
            if consensus[j] > 0.0:
                clipped[(i, j)] = consensus[j]
        else:
            clipped[(i, j)] = v
    vtrust = [0.0] * rows
    for (i, _), v in clipped.items():
        vtrust[i] += v

    # §4.9 Ranks, incentive.
    ranks = [0.0] * cols
    for (i, j), v in clipped.items():
        ranks[j] += active_stake[i] * v
    incentive = _normalize(ranks)

    # §4.10 interpolate_sparse: copies at β = 0 and 1, else the union keeping v > 0.
    if beta == 0.0:
        wb = dict(w)
    elif beta == 1.0:
        wb = dict(clipped)
    else:
        wb = {}
        for i in range(rows):
            for j in range(cols):
                if (i, j) not in w and (i, j) not in clipped:
                    continue
                v = at(w, i, j) + beta * (at(clipped, i, j) - at(w, i, j))
                if v > 0.0:
                    wb[(i, j)] = v

    # §4.11.2 / 4.12.2 Drop the bond entries of recently registered columns.
    masked: Entries = {(i, j): v for (i, j), v in b_in.items() if not recent[j]}

    rate: float | Dense
    if yuma3:
        if liquid and any(c != 0.0 for c in consensus):
            # α for every cell, from WB and B with absent = 0 (rows sorted by column, as CSR is).
            rate = [
                [
                    _alpha_sigmoid(consensus[j], at(wb, i, j), at(masked, i, j), lo, hi, steep)
                    for j in range(cols)
                ]
                for i in range(rows)
            ]
            # mat_ema_alpha_sparse: only columns present in WB; a bond without one is dropped.
            ema: Entries = {}
            for (i, j), v in wb.items():
                a = rate[i][j]
                val = min(1.0, (1.0 - a) * at(masked, i, j) + max(0.0, a * v))
                if val > 0.0:
                    ema[(i, j)] = val
        else:
            rate = fixed_rate
            ema = {}
            for i in range(rows):
                for j in range(cols):
                    val = fixed_rate * at(wb, i, j) + (1.0 - fixed_rate) * at(masked, i, j)
                    if val > 0.0:
                        ema[(i, j)] = val
        ema_norm = _entries_col_normalize(ema, cols)
        tb = [0.0] * rows
        for (i, j), v in ema_norm.items():
            tb[i] += v * incentive[j]
        dividends = _normalize([tb[i] * active_stake[i] for i in range(rows)])
        ema_bonds = ema
        new_bonds = dict(ema)
    else:
        rate = fixed_rate
        b_norm = _entries_col_normalize(masked, cols)
        delta = _entries_col_normalize(
            {(i, j): v * active_stake[i] for (i, j), v in wb.items()}, cols
        )
        raw_ema: Entries = {}
        for i in range(rows):
            for j in range(cols):
                val = fixed_rate * at(delta, i, j) + (1.0 - fixed_rate) * at(b_norm, i, j)
                if val > 0.0:
                    raw_ema[(i, j)] = val
        ema = _entries_col_normalize(raw_ema, cols)
        d = [0.0] * rows
        for (i, j), v in ema.items():
            d[i] += incentive[j] * v
        dividends = _normalize(d)
        ema_bonds = ema
        new_bonds = _entries_col_max_upscale(ema, cols)

    # §4.14 Sparse storage: every row without a new permit is emptied.
    stored = {(i, j): v for (i, j), v in new_bonds.items() if new_permit[i]}

    out: dict[str, Any] = {
        "stake": stake_n,
        "validator_permit": new_permit,
        "active_stake": active_stake,
        "weights": w,
        "consensus": consensus,
        "clipped_weights": clipped,
        "validator_trust": vtrust,
        "ranks": ranks,
        "incentive": incentive,
        "weights_for_bonds": wb,
        "masked_bonds": masked,
        "rate": rate,
        "ema_bonds": ema_bonds,
        "new_bonds": new_bonds,
        "dividends": dividends,
        "bonds": stored,
    }
    out.update(_emission(incentive, dividends, stake_n, active_stake, square))
    return out


def _emission(
    incentive: list[float],
    dividends: list[float],
    stake_n: list[float],
    active_stake: list[float],
    square: bool,
) -> dict[str, list[float]]:
    """§4.13 Normalised emission shares, with the emergency fallback when Σ(I + D) = 0.

    Square (uid) layout: per uid. Validators x miners: server per miner, validator per
    validator, combined = validators then miners.
    """
    total = 0.0
    if square:
        combined = [incentive[i] + dividends[i] for i in range(len(incentive))]
        for v in combined:
            total += v
    else:
        for v in incentive:
            total += v
        for v in dividends:
            total += v
    if total != 0.0:
        server = [v / total for v in incentive]
        validator = [v / total for v in dividends]
        if square:
            comb = _normalize(combined)
        else:
            comb = validator + server
    else:
        # Emergency: servers get I (all 0); validators and combined follow the active stake,
        # or the normalised stake when no stake is active.
        server = list(incentive)
        source = active_stake if any(a != 0.0 for a in active_stake) else stake_n
        validator = list(source)
        comb = list(source) if square else list(source) + [0.0] * len(incentive)
    return {"server_emission": server, "validator_emission": validator, "combined_emission": comb}
