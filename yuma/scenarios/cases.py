"""The 24 public scenarios of the community Yuma simulators, built from their descriptions.

All have 3 validators, 2 or 3 servers (miners) and 40 epochs. The 18 noiseless cases are
exact; cases 19–24 (winner-takes-all with noisy validators) draw their noise from our own
seeded generator, so they match the public cases in kind, not number for number.

Each builder says what happens in words; :func:`~yuma.scenarios.base.switches` turns
"validator i moves to server j at epoch t" into a weight schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.scenarios.base import Scenario, switches

__all__ = ["CASES", "build_case"]

E = 40
S1, S2 = [1.0, 0.0], [0.0, 1.0]
TWO = ("Server 1", "Server 2")
THREE = ("Server 1", "Server 2", "Server 3")
BIG_SMALL = [0.8, 0.1, 0.1]


def _stake(row: Sequence[float]) -> FloatArray:
    return np.tile(np.asarray(row, dtype=np.float64), (E, 1))


def _stack(*validators: FloatArray) -> FloatArray:
    return np.stack(validators, axis=1)


def _movers(first: tuple[int, int, int]) -> FloatArray:
    """Each validator leaves server 1 for server 2 at its own epoch."""
    return _stack(*(switches(E, (0, S1), (t, S2)) for t in first))


def _move_and_back(moves: tuple[int, int, int], backs: tuple[int, int, int]) -> FloatArray:
    """Each validator moves to server 2 at ``moves[i]`` and back to server 1 at ``backs[i]``."""
    return _stack(
        *(switches(E, (0, S1), (m, S2), (b, S1)) for m, b in zip(moves, backs, strict=True))
    )


def _stable_miner(share: float) -> FloatArray:
    """Server 3 keeps ``share``; the rest moves from server 1 to 2 (big second, then eager,
    then lazy: epochs 2, 1, 3)."""
    before, after = [1.0 - share, 0.0, share], [0.0, 1.0 - share, share]
    return _stack(*(switches(E, (0, before), (t, after)) for t in (2, 1, 3)))


def _noisy(seed: int, truth: Sequence[float], sigma: Sequence[float], one_hot: bool) -> FloatArray:
    """Validators score servers as ``truth + N(0, σ_i²)`` each epoch; client-side WTA sets
    all weight on the best score (``one_hot``), otherwise the clipped scores are normalised."""
    rng = np.random.default_rng(seed)
    t = np.asarray(truth, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    scores = t[None, None, :] + rng.normal(size=(E, s.size, t.size)) * s[None, :, None]
    if one_hot:
        return np.asarray(scores == scores.max(axis=2, keepdims=True), dtype=np.float64)
    clipped = np.maximum(scores, 1e-9)
    return np.asarray(clipped / clipped.sum(axis=2, keepdims=True), dtype=np.float64)


# Server qualities and noise levels of the noisy cases: two close servers, three spread
# servers, three nearly equal servers; "low" and "high" noise per validator.
TWO_TRUTH, THREE_TRUTH, CLOSE_TRUTH = (0.52, 0.48), (0.28, 0.33, 0.39), (0.327, 0.330, 0.343)
LOW, HIGH, VERY_LOW = 0.03, 0.075, 0.01

Case = tuple[
    str, str, tuple[str, ...], str, Callable[[], tuple[FloatArray, FloatArray]], dict[str, Any]
]


def _defs() -> list[Case]:
    big = "Big vali. (0.8)"
    wta = {"winner_takes_all": True}
    noisy_two = ("Big vali. 1 (low noise)", "Big vali. 2 (high noise)", "Small vali. (high noise)")
    noisy_three = (
        "Big vali. 1 (low noise)",
        "Big vali. 2 (high noise)",
        "Big vali. 3 (high noise)",
    )
    low_three = ("Big vali. 1 (low noise)", "Big vali. 2 (low noise)", "Big vali. 3 (low noise)")
    eager_lazy = (big, "Small eager vali. (0.1)", "Small lazy vali. (0.1)")
    return [
        # Big moves to server 2 first (epoch 1), the small ones follow at 2 and 3.
        (
            "kappa_moves_first",
            "Case 1 - kappa moves first",
            (big, "Small lazy vali. (0.1)", "Small lazier vali. (0.1)"),
            big,
            lambda: (_movers((1, 2, 3)), _stake(BIG_SMALL)),
            {},
        ),
        # An eager small validator moves first (1), big second (2), the lazy one third (3).
        (
            "kappa_moves_second",
            "Case 2 - kappa moves second",
            eager_lazy,
            "Small eager vali. (0.1)",
            lambda: (_movers((2, 1, 3)), _stake(BIG_SMALL)),
            {},
        ),
        (
            "kappa_moves_third",
            "Case 3 - kappa moves third",
            eager_lazy,
            "Small eager vali. (0.1)",
            lambda: (_movers((3, 1, 2)), _stake(BIG_SMALL)),
            {},
        ),
        (
            "all_validators_switch",
            "Case 4 - all validators switch",
            (big, "Small vali. (0.1)", "Small vali 2. (0.1)"),
            big,
            lambda: (_movers((1, 1, 1)), _stake(BIG_SMALL)),
            {},
        ),
        # Moves as case 2, then back to server 1: eager-eager first (21), then the other
        # small (22), big last (23); server 2's bonds reset at epoch 20.
        (
            "kappa_moves_second_then_third",
            "Case 5 - kappa moves second, then third",
            (big, "Small eager-eager vali. (0.1)", "Small eager-lazy vali. (0.1)"),
            "Small eager-eager vali. (0.1)",
            lambda: (_move_and_back((2, 1, 1), (23, 21, 22)), _stake(BIG_SMALL)),
            {"bond_reset": ((1, 20),)},
        ),
        (
            "kappa_moves_second_then_all_switch",
            "Case 6 - kappa moves second, then all validators switch",
            eager_lazy,
            "Small eager vali. (0.1)",
            lambda: (_move_and_back((2, 1, 3), (21, 21, 21)), _stake(BIG_SMALL)),
            {"bond_reset": ((0, 21),)},
        ),
        (
            "big_moves_late_then_all_but_one_small_late",
            "Case 7 - big vali moves late, then all but one small vali moves late",
            (big, "Small eager-lazy vali. (0.1)", "Small eager-eager vali. (0.1)"),
            "Small eager-eager vali. (0.1)",
            lambda: (_move_and_back((2, 1, 1), (22, 22, 21)), _stake(BIG_SMALL)),
            {"bond_reset": ((0, 21),)},
        ),
        (
            "big_moves_late_then_late",
            "Case 8 - big vali moves late, then late",
            (
                "Big dishonest lazy vali. (0.8)",
                "Small eager-eager vali. (0.1)",
                "Small eager-eager vali 2. (0.1)",
            ),
            "Small eager-eager vali. (0.1)",
            lambda: (_move_and_back((2, 1, 1), (22, 21, 21)), _stake(BIG_SMALL)),
            {"bond_reset": ((1, 20),)},
        ),
        # Everybody on server 2; at epoch 6 the second small validator's stake merges into
        # the first.
        (
            "small_validators_merged",
            "Case 9 - small validators merged in e5",
            (big, "Small vali. (0.1/0.2)", "Small vali 2. (0.1/0.0)"),
            big,
            lambda: (
                np.tile(np.asarray(S2), (E, 3, 1)),
                _stack(
                    *(
                        switches(E, (0, [s0]), (6, [s1]))
                        for s0, s1 in ((0.8, 0.8), (0.1, 0.2), (0.1, 0.0))
                    )
                )[:, :, 0],
            ),
            {},
        ),
        # Big waits until epoch 10, the lazy one until 11.
        (
            "kappa_delayed",
            "Case 10 - kappa delayed",
            ("Big delayed vali. (0.8)", "Small eager vali. (0.1)", "Small lazy vali. (0.1)"),
            "Small eager vali. (0.1)",
            lambda: (_movers((10, 1, 11)), _stake(BIG_SMALL)),
            {},
        ),
        # Two equal big validators disagree; the small one sits just above one of them, then
        # (epoch 20) sets a row that does not sum to 1.
        (
            "clipping_demo",
            "Case 11 - clipping demo",
            ("Big vali. 1 (0.49)", "Big vali. 2 (0.49)", "Small vali. (0.02)"),
            "Big vali. 1 (0.49)",
            lambda: (
                _stack(
                    switches(E, (0, [0.3, 0.7])),
                    switches(E, (0, [0.6, 0.4])),
                    switches(E, (0, [0.61, 0.39]), (20, [0.3, 0.61])),
                ),
                _stake([0.49, 0.49, 0.02]),
            ),
            {},
        ),
        # Everybody moves to server 2 at 1 and back at 21; the dishonest small validator keeps
        # 0.001 on the other server.
        (
            "all_switch_small_keeps_alt",
            "Case 12 - all validators switch, but small validator/s support alt miner with minimal "
            "weight",
            (big, "Small dishonest vali. (0.1)", "Small vali. (0.1)"),
            big,
            lambda: (
                _stack(
                    switches(E, (0, S1), (1, S2), (21, S1)),
                    switches(E, (0, [0.999, 0.001]), (1, [0.001, 0.999]), (21, [0.999, 0.001])),
                    switches(E, (0, S1), (1, S2), (21, S1)),
                ),
                _stake(BIG_SMALL),
            ),
            {"bond_reset": ((1, 20),)},
        ),
        # Big on server 2 throughout; one small splits evenly, the other joins it at 21.
        (
            "big_on_server2_smalls_split",
            "Case 13 - Big vali supports server 2, small validator/s support server 1",
            (big, "Small vali. (0.1)", "Small vali 2. (0.1)"),
            big,
            lambda: (
                _stack(
                    switches(E, (0, S2)),
                    switches(E, (0, [0.5, 0.5])),
                    switches(E, (0, S2), (21, [0.5, 0.5])),
                ),
                _stake(BIG_SMALL),
            ),
            {"bond_reset": ((0, 20),)},
        ),
        (
            "one_switches_for_one_epoch",
            "Case 14 - All validators support Server 1, one of them switches to Server 2 for one "
            "epoch",
            ("Vali. 1 (0.33)", "Vali. 2 (0.33)", "Vali. 3 (0.34)"),
            "Vali. 1 (0.33)",
            lambda: (
                _stack(
                    switches(E, (0, S1)),
                    switches(E, (0, S1)),
                    switches(E, (0, S1), (20, S2), (21, S1)),
                ),
                _stake([0.33, 0.33, 0.34]),
            ),
            {},
        ),
        *(
            (
                f"stable_miner_{int(share * 100):02d}",
                f"Case {case} - big vali moves second, stable miner gets {share:g}",
                eager_lazy,
                "Small eager vali. (0.1)",
                (lambda share=share: (_stable_miner(share), _stake(BIG_SMALL))),
                {},
            )
            for case, share in ((15, 0.25), (16, 0.5), (17, 0.75), (18, 0.9))
        ),
        # Winner-takes-all with noisy validators: client-side (each validator puts all its
        # weight on its best-scored server) and server-side (soft weights, WTA incentive).
        (
            "client_wta",
            "Case 19 - Client-side WTA",
            noisy_two,
            noisy_two[0],
            lambda: (_noisy(19, TWO_TRUTH, (LOW, HIGH, HIGH), True), _stake([0.49, 0.49, 0.02])),
            {},
        ),
        (
            "server_wta",
            "Case 20 - Server-side WTA",
            noisy_two,
            noisy_two[0],
            lambda: (_noisy(20, TWO_TRUTH, (LOW, HIGH, HIGH), False), _stake([0.49, 0.49, 0.02])),
            wta,
        ),
        (
            "client_wta_3",
            "Case 21 - 3 servers Client-side WTA",
            noisy_three,
            noisy_three[0],
            lambda: (_noisy(21, THREE_TRUTH, (LOW, HIGH, HIGH), True), _stake([0.34, 0.33, 0.33])),
            wta,
        ),
        (
            "server_wta_3",
            "Case 22 - 3 servers Server-side WTA",
            noisy_three,
            noisy_three[0],
            lambda: (_noisy(22, THREE_TRUTH, (LOW, HIGH, HIGH), False), _stake([0.34, 0.33, 0.33])),
            wta,
        ),
        (
            "client_wta_3_low_noise",
            "Case 23 - 3 servers Client-side WTA low noise",
            low_three,
            low_three[0],
            lambda: (_noisy(23, CLOSE_TRUTH, (VERY_LOW,) * 3, True), _stake([0.34, 0.33, 0.33])),
            wta,
        ),
        (
            "server_wta_3_low_noise",
            "Case 24 - 3 servers Server-side WTA low noise",
            low_three,
            low_three[0],
            lambda: (_noisy(24, CLOSE_TRUTH, (VERY_LOW,) * 3, False), _stake([0.34, 0.33, 0.33])),
            wta,
        ),
    ]


#: name -> (key, builder); in case order.
CASES: dict[str, tuple[str, Case]] = {
    d[0]: (f"case{i:02d}", d) for i, d in enumerate(_defs(), start=1)
}


def build_case(name: str) -> Scenario:
    """Build the public case called ``name`` (see :data:`CASES`)."""
    key, (slug, title, validators, base, build, options) = CASES[name]
    weights, stake = build()
    number = int(key[4:])
    reset = tuple(options.get("bond_reset", ()))
    extra = {k: v for k, v in options.items() if k != "bond_reset"}
    servers = THREE if weights.shape[2] == 3 else TWO
    return Scenario(
        name=slug,
        title=title,
        weights=weights,
        stake=stake,
        validators=validators,
        miners=servers,
        base_validator=base,
        bond_reset=reset,
        options=extra,
        key=key,
        noisy=number >= 19,
        seed=number if number >= 19 else None,
        description=title.split(" - ", 1)[1],
    )
