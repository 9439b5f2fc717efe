"""yuma.compare: the tidy table, the figure grid, and bad arguments."""

from __future__ import annotations

import importlib.util

import matplotlib
import numpy as np
import pytest

import yuma
from yuma import scenarios

matplotlib.use("Agg")

HAS_PANDAS = importlib.util.find_spec("pandas") is not None


def test_table_has_one_row_per_scenario_variant_validator() -> None:
    c = yuma.compare(["kappa_moves_second", "case10"], ["yuma2", "yuma3"])
    assert c.scenarios == ("kappa_moves_second", "kappa_delayed")
    assert c.variants == ("yuma2", "yuma3")
    t = c.table
    assert all(len(col) == 2 * 2 * 3 for col in t.values())
    assert list(t["scenario"][:6]) == ["kappa_moves_second"] * 6
    assert list(t["variant"][:6]) == ["yuma2"] * 3 + ["yuma3"] * 3
    # The numbers are the runs' own totals.
    r = c.results[("kappa_moves_second", "yuma3")]
    np.testing.assert_array_equal(t["total_dividends"][3:6], r.total_dividends())
    np.testing.assert_array_equal(t["relative_dividends"][3:6], r.total_relative_dividends())
    np.testing.assert_allclose(t["stake_share"][:3], [0.8, 0.1, 0.1])
    # The base validator of "kappa moves second" is the eager small one (row 1).
    assert list(t["base"][:3]) == [False, True, False]


def test_variant_triples_carry_options_and_scenario_options_apply() -> None:
    c = yuma.compare(
        "kappa_moves_second",
        ["yuma3", ("yuma3 + liquid alpha", "yuma3", {"liquid_alpha": "v2"})],
        yuma.YumaParams(bonds_penalty=0.0),
    )
    plain = c.results[("kappa_moves_second", "yuma3")]
    liquid = c.results[("kappa_moves_second", "yuma3 + liquid alpha")]
    assert liquid.options.liquid_alpha == "v2" and plain.options.liquid_alpha is None
    assert not np.array_equal(plain.bonds, liquid.bonds)
    reset = yuma.compare("case06", "yuma3").results[("kappa_moves_second_then_all_switch", "yuma3")]
    assert reset.options.bond_reset == ((0, 21),)


def test_synthetic_scenarios_and_registered_variants_compare() -> None:
    sub = scenarios.random_subnet(4, 3, 6, noise=0.0, seed=2)
    c = yuma.compare([sub], [yuma.variants.get("yuma2c"), "yuma1"])
    for variant in c.variants:
        # Agreeing validators: everyone is paid its stake share.
        np.testing.assert_allclose(c.relative(sub.name, variant), 1.0, rtol=1e-9)


def test_all_scenarios_run() -> None:
    c = yuma.compare("all", "yuma3")
    assert len(c.scenarios) == 24 and len(c.table["scenario"]) == 24 * 3


def test_figure_grid() -> None:
    import matplotlib.pyplot as plt

    c = yuma.compare(["case01", "case02"], ["yuma2", "yuma3", "yuma2c"], plot=True)
    assert c.figure is not None
    axes = c.figure.get_axes()
    assert len(axes) == 2 * 3
    assert axes[0].get_title() == "kappa_moves_first | yuma2"
    again = c.plot("bonds")
    assert len(again.get_axes()) == 6
    plt.close("all")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        yuma.compare("kappa moves fourth", "yuma3")
    with pytest.raises(ValueError, match="unknown variant"):
        yuma.compare("case01", ["yuma3", "yuma4"])
    with pytest.raises(ValueError, match="unique"):
        yuma.compare("case01", ["yuma3", "yuma3"])
    with pytest.raises(ValueError, match="at least one variant"):
        yuma.compare("case01", [])
    with pytest.raises(ValueError, match="at least one scenario"):
        yuma.compare([], "yuma3")
    with pytest.raises(ValueError, match="kind"):
        yuma.compare("case01", "yuma3", kind="pie")
    with pytest.raises(ValueError, match="unknown option"):
        yuma.compare("case01", "yuma3", flavour=1)
    with pytest.raises(ValueError, match="a variant must be"):
        yuma.compare("case01", [3])  # type: ignore[list-item]


@pytest.mark.skipif(HAS_PANDAS, reason="pandas is installed")
def test_to_pandas_without_pandas_says_how_to_install_it() -> None:
    with pytest.raises(ImportError, match="pip install pandas"):
        yuma.compare("case01", "yuma3").to_pandas()


@pytest.mark.skipif(not HAS_PANDAS, reason="pandas is not installed")
def test_to_pandas() -> None:
    df = yuma.compare("case01", "yuma3").to_pandas()
    assert list(df.columns)[:3] == ["scenario", "variant", "validator"] and len(df) == 3
