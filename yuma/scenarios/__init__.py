"""The scenario library: the 24 public Yuma scenarios and synthetic subnets.

``yuma.scenarios.names()`` names the public cases in order; ``yuma.scenarios.get(name)`` builds
one (a :class:`Scenario` with ``weights`` [epochs, V, N], ``stake`` [epochs, V], labels, and the
bond reset the case asks for). ``get`` also takes the public key (``"case02"``) or title.
:func:`random_subnet` makes synthetic subnets of any size, and :func:`copier_strategy` an adaptive
scenario (a :class:`Strategy`) where one validator copies the consensus it saw.

Example::

    sc = yuma.scenarios.get("kappa_moves_second")
    result = sc.simulate("yuma2", yuma.YumaParams(bonds_penalty=0.0))
    result.total_relative_dividends()[sc.base_index]
"""

from __future__ import annotations

from yuma.scenarios.base import Scenario, switches
from yuma.scenarios.cases import CASES, build_case
from yuma.scenarios.strategies import Strategy, copier_strategy
from yuma.scenarios.synthetic import STAKE_DISTRIBUTIONS, random_subnet, stake_distribution

__all__ = [
    "STAKE_DISTRIBUTIONS",
    "Scenario",
    "Strategy",
    "copier_strategy",
    "get",
    "names",
    "random_subnet",
    "stake_distribution",
    "switches",
]


def names() -> list[str]:
    """Names of the 24 public scenarios, in case order (case01 … case24)."""
    return list(CASES)


def _lookup() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, (key, definition) in CASES.items():
        for alias in (name, key, definition[1]):
            out[alias.lower()] = name
    return out


_ALIASES = _lookup()


def get(name: str) -> Scenario:
    """Build the public scenario ``name``: a name from :func:`list`, a key ``"caseNN"``, or a
    title such as ``"Case 2 - kappa moves second"`` (case-insensitive)."""
    if not isinstance(name, str) or name.lower() not in _ALIASES:
        raise ValueError(f"unknown scenario {name!r}; yuma.scenarios.names() names them")
    return build_case(_ALIASES[name.lower()])
