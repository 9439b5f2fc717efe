"""Run scenarios under variants side by side (`compare`): a tidy table and a figure grid.

The table has one row per (scenario, variant, validator) with total dividends over the run and
dividends relative to stake (1 = paid in proportion to stake); the figure grid has one panel
per (scenario, variant). This is the view people use to choose a variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from yuma.params import YumaParams
from yuma.scenarios import Scenario, Strategy
from yuma.scenarios import get as get_scenario
from yuma.scenarios import names as list_scenarios
from yuma.simulation import PLOT_KINDS, SimulationResult
from yuma.variants import Variant
from yuma.variants import get as get_variant

__all__ = ["Comparison", "VariantSpec", "compare"]

#: A variant to compare: a name, a :class:`Variant`, or ``(label, variant, options)`` for a
#: variant with options (e.g. ``("yuma3 + LA", "yuma3", {"liquid_alpha": "v2"})``).
VariantSpec = str | Variant | tuple[str, str | Variant, Mapping[str, Any]]

TABLE_COLUMNS = (
    "scenario",
    "variant",
    "validator",
    "base",
    "stake_share",
    "total_dividends",
    "relative_dividends",
)


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` returns.

    Attributes
    ----------
    scenarios, variants : tuple of str
        Row and column labels of the grid, in order.
    results : mapping
        ``(scenario, variant) -> SimulationResult``.
    table : dict of str -> (rows,) arrays
        The tidy table, one row per (scenario, variant, validator): ``scenario``,
        ``variant``, ``validator``, ``base`` (the validator the scenario is about),
        ``stake_share`` (mean over epochs), ``total_dividends`` (sum over epochs) and
        ``relative_dividends`` (total dividends / total stake share).
    figure : matplotlib Figure or None
        The grid, when ``compare(plot=True)``.
    """

    scenarios: tuple[str, ...]
    variants: tuple[str, ...]
    results: Mapping[tuple[str, str], SimulationResult]
    table: Mapping[str, np.ndarray[Any, Any]]
    figure: Any = None

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "to_pandas needs pandas (pip install pandas); Comparison.table holds the same "
                "columns as a dict of numpy arrays"
            ) from None
        return pd.DataFrame(dict(self.table))

    def relative(self, scenario: str, variant: str) -> np.ndarray[Any, Any]:
        """(V,) total dividends over total stake share of every validator in one cell."""
        return self.results[(scenario, variant)].total_relative_dividends()

    def plot(self, kind: str = "relative_dividends", **kwargs: Any) -> Any:
        """A new figure grid (rows: scenarios, columns: variants) of ``kind`` per panel.

        ``kind`` is a :meth:`SimulationResult.plot` kind; ``kwargs`` go to
        ``plt.subplots``. Returns the Figure.
        """
        return _grid(self.scenarios, self.variants, self.results, kind, **kwargs)


def _variant_specs(
    variants: VariantSpec | Iterable[VariantSpec],
) -> list[tuple[str, str | Variant, dict[str, Any]]]:
    if isinstance(variants, (str, Variant)) or (
        isinstance(variants, tuple) and len(variants) == 3 and isinstance(variants[2], Mapping)
    ):
        items: list[Any] = [variants]
    else:
        items = list(variants)
    out: list[tuple[str, str | Variant, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, item, {}))
        elif isinstance(item, Variant):
            out.append((item.name, item, {}))
        elif isinstance(item, tuple) and len(item) == 3 and isinstance(item[2], Mapping):
            out.append((str(item[0]), item[1], dict(item[2])))
        else:
            raise ValueError(
                f"a variant must be a name, a Variant or (label, variant, options), got {item!r}"
            )
        get_variant(out[-1][1])  # unknown names fail here, before anything runs
    labels = [label for label, _, _ in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"variant labels must be unique, got {labels}")
    if not out:
        raise ValueError("compare needs at least one variant")
    return out


Runnable = Scenario | Strategy


def _scenarios(scenarios: str | Runnable | Iterable[str | Runnable]) -> list[Runnable]:
    if isinstance(scenarios, str):
        items: list[Any] = list_scenarios() if scenarios == "all" else [scenarios]
    elif isinstance(scenarios, (Scenario, Strategy)):
        items = [scenarios]
    else:
        items = list(scenarios)
    out = [s if isinstance(s, (Scenario, Strategy)) else get_scenario(s) for s in items]
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must be unique, got {names}")
    if not out:
        raise ValueError("compare needs at least one scenario")
    return out


def compare(
    scenarios: str | Runnable | Iterable[str | Runnable],
    variants: VariantSpec | Iterable[VariantSpec] = ("yuma2", "yuma3"),
    params: YumaParams | None = None,
    *,
    backend: str | None = None,
    plot: bool = False,
    kind: str = "relative_dividends",
    **options: Any,
) -> Comparison:
    """Run every scenario under every variant.

    Parameters
    ----------
    scenarios : name, Scenario, Strategy, "all", or a sequence of them
        Scenario-library names (``yuma.scenarios.names()``), :class:`Scenario` objects
        (``yuma.scenarios.random_subnet(...)`` for synthetic ones) or adaptive
        :class:`Strategy` objects (``yuma.scenarios.copier_strategy(...)``).
    variants : VariantSpec or a sequence of them
        Variant names, :class:`Variant` objects, or ``(label, variant, options)`` triples.
    params : YumaParams, optional
        Shared hyperparameters (each variant decides its Yuma3 flag, see :func:`yuma.simulate`).
    backend : str, optional
        Passed to :func:`yuma.simulate`.
    plot : bool
        Also draw the figure grid (needs matplotlib).
    kind : str
        What each panel shows (a :meth:`SimulationResult.plot` kind).
    **options
        Options for every run; a scenario's own options (bond reset, winner-takes-all) apply
        first, then these, then a variant triple's.

    Returns
    -------
    Comparison
    """
    if kind not in PLOT_KINDS:
        raise ValueError(f"kind must be one of {PLOT_KINDS}, got {kind!r}")
    specs = _variant_specs(variants)
    scs = _scenarios(scenarios)
    results: dict[tuple[str, str], SimulationResult] = {}
    columns: dict[str, list[Any]] = {name: [] for name in TABLE_COLUMNS}
    for sc in scs:
        for label, variant, own in specs:
            result = sc.simulate(variant, params, backend, **{**options, **own})
            results[(sc.name, label)] = result
            share = result.stake.mean(axis=0)
            totals = result.total_dividends()
            relative = result.total_relative_dividends()
            for i, validator in enumerate(sc.validators):
                columns["scenario"].append(sc.name)
                columns["variant"].append(label)
                columns["validator"].append(validator)
                columns["base"].append(i == sc.base_index)
                columns["stake_share"].append(share[i])
                columns["total_dividends"].append(totals[i])
                columns["relative_dividends"].append(relative[i])
    table = {
        name: np.asarray(
            values, dtype=object if name in ("scenario", "variant", "validator") else None
        )
        for name, values in columns.items()
    }
    scenario_names = tuple(sc.name for sc in scs)
    variant_labels = tuple(label for label, _, _ in specs)
    frozen = MappingProxyType(results)
    figure = _grid(scenario_names, variant_labels, frozen, kind) if plot else None
    return Comparison(
        scenarios=scenario_names,
        variants=variant_labels,
        results=frozen,
        table=MappingProxyType(table),
        figure=figure,
    )


def _grid(
    scenarios: Sequence[str],
    variants: Sequence[str],
    results: Mapping[tuple[str, str], SimulationResult],
    kind: str,
    **kwargs: Any,
) -> Any:
    import matplotlib.pyplot as plt

    rows, cols = len(scenarios), len(variants)
    kwargs.setdefault("figsize", (3.2 * cols, 2.4 * rows))
    kwargs.setdefault("squeeze", False)
    kwargs.setdefault("sharex", True)
    fig, axes = plt.subplots(rows, cols, **kwargs)
    for i, sc in enumerate(scenarios):
        for j, var in enumerate(variants):
            ax = axes[i][j]
            results[(sc, var)].plot(kind, ax=ax)
            ax.set_title(f"{sc} | {var}", fontsize="small")
            ax.set_xlabel("epoch" if i == rows - 1 else "")
            ax.set_ylabel(kind.replace("_", " ") if j == 0 else "")
            legend = ax.get_legend()
            if legend is not None and not (i == 0 and j == cols - 1):
                legend.remove()
    fig.tight_layout()
    return fig
