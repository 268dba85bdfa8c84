"""The report's "difference from baseline over training" panels and table (issue 23), and the
efficiency view leaving out axes on which every variant is equal."""

from __future__ import annotations

import io

import numpy as np
import polars as pl

from analysis import compare, compare_over_steps
from harness.report.html import build_report, curves_figure
from harness.report.over_steps import render
from harness.results.over_steps import report_results


def curves_and_table(seeds: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """base, fast (same loss, faster) and better (0.3 lower from step 40 on); every variant
    has the same parameter count."""
    rng = np.random.default_rng(9)
    seed_level = rng.normal(0, 0.3, seeds)
    rows, finals = [], []
    for variant in ("base", "fast", "better"):
        for seed in range(seeds):
            for step in range(0, 101, 10):
                gain = 0.3 if variant == "better" and step >= 40 else 0.0
                loss = 3 + 4 / (1 + step) + seed_level[seed] - gain + rng.normal(0, 0.02)
                rows.append({"variant": variant, "seed": seed, "step": step, "train_loss": loss})
            finals.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "train_loss": rows[-1]["train_loss"],
                    "tokens_per_s": (1500.0 if variant == "fast" else 1000.0) + rng.normal(0, 5),
                    "n_params": 1.0e6,
                }
            )
    return pl.DataFrame(rows), pl.DataFrame(finals)


def test_report_draws_differences_under_the_curves_with_a_table() -> None:
    curves, table = curves_and_table()
    result = compare(table, metric="train_loss", baseline="base")
    found = report_results(result, curves, ["train_loss"], smoothing=0.0)
    expected = compare_over_steps(
        curves,
        metric="train_loss",
        baseline="base",
        variants=["fast", "better"],
        rng=np.random.default_rng(0),
    )
    assert found["train_loss"].to_dict() == expected.to_dict()
    assert found["train_loss"].separated_from["better"] == 40
    figure = curves_figure(result, curves, found)
    assert figure is not None and len(figure.axes) == 2  # raw curves over the differences
    titles = [axis.get_title() for axis in figure.axes]
    assert any("difference from base over training" in t for t in titles)
    assert [axis.get_xlabel() for axis in figure.axes] == ["step", "step"]
    by_line = curves_figure(result, curves, found, step_axis="log line")  # no step printed
    assert by_line is not None
    assert [axis.get_xlabel() for axis in by_line.axes] == ["log line", "log line"]
    for fmt in ("markdown", "table"):
        out = io.StringIO()
        render(found["train_loss"], fmt, stream=out, step_axis="log line")
        assert "log line" in out.getvalue(), fmt
        out = io.StringIO()
        render(found["train_loss"], fmt, stream=out)
        assert "log line" not in out.getvalue(), fmt

    report = build_report(result, title="t", source="s", agg="final", table=table, curves=curves)
    assert "Difference from baseline over training" in report.html
    assert "separated from" in report.markdown and "40 (better)" in report.markdown
    assert "Early signal" in report.markdown
    # The figure count is unchanged: the differences are part of the curves figure.
    assert sorted(report.images) == [
        "report_curves.png",
        "report_efficiency.png",
        "report_forest.png",
    ]


def test_efficiency_leaves_out_an_axis_on_which_every_variant_is_equal() -> None:
    curves, table = curves_and_table()
    result = compare(table, metric="train_loss", baseline="base")
    report = build_report(result, title="t", source="s", agg="final", table=table, curves=curves)
    assert "Equal for every variant, so not drawn: parameters (1,000,000)." in report.markdown
    efficiency = report.markdown.split("## Efficiency beside quality")[1].split("\n## ")[0]
    assert "tokens/s mean" in efficiency and "parameters mean" not in efficiency
    pareto = report.markdown.split("## Pareto view")[1].split("\n## ")[0]
    assert "parameters: tier" not in pareto and "tokens/s: tier" in pareto


def test_without_enough_steps_or_curves_there_is_no_difference_section() -> None:
    curves, table = curves_and_table()
    one_step = curves.filter(pl.col("step") == 100)
    result = compare(table, metric="train_loss", baseline="base")
    assert report_results(result, one_step, ["train_loss"], smoothing=0.0) == {}
    report = build_report(result, title="t", source="s", agg="final", table=table, curves=None)
    assert "Difference from baseline over training" not in report.html
