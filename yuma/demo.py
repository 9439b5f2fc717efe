"""A short demo on built-in synthetic data: one epoch of a small subnet, printed as a table.

Run it with ``python -m yuma.demo`` (or the ``yuma-demo`` command).
"""

from __future__ import annotations

import numpy as np

from yuma.params import YumaParams
from yuma.result import EpochResult
from yuma.run import epoch

__all__ = ["demo_subnet", "format_table", "main"]


def demo_subnet(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A 10-uid subnet: uids 0–3 validate (stake), uids 4–9 mine.

    Three honest validators agree on the miners' quality up to noise; validator 3 (10% of the
    stake) is a would-be cabal that weights only miner 9, which nobody else values.
    Returns ``(weights (10, 10) as u16, stake (10,) in alpha)``.
    """
    rng = np.random.default_rng(seed)
    n = 10
    stake = np.zeros(n)
    stake[:4] = [500_000.0, 300_000.0, 100_000.0, 100_000.0]
    quality = np.array([0.05, 0.30, 0.20, 0.15, 0.30, 0.0])
    weights = np.zeros((n, n))
    for v in range(3):
        noisy = np.clip(quality + rng.normal(0.0, 0.02, quality.size), 0.0, None)
        noisy[-1] = 0.0
        weights[v, 4:] = np.round(65535 * noisy / noisy.max())
    weights[3, 9] = 65535
    return weights, stake


def format_table(result: EpochResult, stake_raw: np.ndarray) -> str:
    """A readable per-uid table of stake, consensus, incentive, dividends and emission."""
    header = (
        f"{'uid':>3}  {'stake':>9}  {'stake %':>7}  {'consensus':>9}  {'incentive':>9}  "
        f"{'dividends':>9}  {'vtrust':>6}  {'emission %':>10}"
    )
    lines = [header, "-" * len(header)]
    for uid in range(len(stake_raw)):
        lines.append(
            f"{uid:>3}  {stake_raw[uid]:>9.0f}  {100 * result.stake[uid]:>7.2f}  "
            f"{result.consensus[uid]:>9.4f}  {result.incentive[uid]:>9.4f}  "
            f"{result.dividends[uid]:>9.4f}  {result.validator_trust[uid]:>6.3f}  "
            f"{100 * result.combined_emission[uid]:>10.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    """Run three epochs of the demo subnet (bonds build up) and print the last one."""
    weights, stake = demo_subnet()
    params = YumaParams()
    bonds = None
    result = None
    for _ in range(3):
        # The numpy reference: a 10-uid subnet needs no compiled kernel, so the demo's first
        # run takes no compilation time (the numba kernels compile on first use, then cache).
        result = epoch(weights, stake, bonds, params, backend="numpy")
        bonds = result.bonds
    assert result is not None
    print("yuma demo: a 10-uid subnet, validators 0-3, miners 4-9, after 3 epochs (Yuma3)")
    print("validator 3 holds 10% of the stake and weights only miner 9, which nobody else values\n")
    print(format_table(result, stake))
    print(
        f"\nminer 9 consensus {result.consensus[9]:.4f} and incentive {result.incentive[9]:.4f}:"
        " the minority cabal earns nothing for its miner; its validator earns dividends "
        f"{result.dividends[3]:.4f}."
    )


if __name__ == "__main__":
    main()
