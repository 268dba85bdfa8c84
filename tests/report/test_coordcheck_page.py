"""The coord-check page from a known result (no torch): records built so that one activation
grows as width^1 and the others stay flat, judged by ``analysis.coordcheck``, saved as
``harness coordcheck`` saves them and rendered by ``harness report``'s view.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import polars as pl
import pytest

from analysis.coordcheck import coord_check
from harness.coordcheck.saved import coordcheck_payload
from harness.report.coordcheck_view import MAX_PANELS, coordcheck_report
from harness.report.svg_plot import linear_ticks, log_ticks

WIDTHS = (32, 64, 128, 256)
STEPS = 4


def _records(names: dict[tuple[str, int | None], float], seeds: int = 3) -> pl.DataFrame:
    """mean |x| = 0.1 * (width / 32) ** exponent * (1 + step / 10), times seed noise of 1 %."""
    rng = np.random.default_rng(0)
    rows = []
    for (activation, layer), exponent in names.items():
        for seed in range(seeds):
            for width in WIDTHS:
                for step in range(STEPS):
                    value = 0.1 * (width / 32) ** exponent * (1 + step / 10)
                    value *= 1 + 0.01 * rng.standard_normal()
                    rows.append(
                        {"width": width, "seed": seed, "step": step}
                        | {"activation": activation, "layer": layer, "value": value}
                    )
    return pl.DataFrame(rows, schema_overrides={"layer": pl.Int64})


def _saved(names: dict[tuple[str, int | None], float]) -> dict:  # type: ignore[type-arg]
    records = _records(names)
    result = coord_check(records, first_step=2)
    summary = {
        "verdict": result.verdict,
        "what": "a known model",
        "tolerance": result.tolerance,
        "alpha": result.alpha,
        "looks": result.looks,
        "seeds": result.seeds,
        "widths": list(WIDTHS),
        "steps": STEPS,
        "judged_from_step": 2,
        "device": "cpu",
        "seconds": 1.0,
        "failures": list(result.failures),
        "uncertain": list(result.uncertain),
        "worst": [{"activation": "grows", "layer": 1, "slope": 1.0}],
        "exit_code": 1,
    }
    return coordcheck_payload(records, result, summary)


def _panels(page: str) -> dict[str, str]:
    svg = re.search(r'<svg class="coordcheck-plot".*?</svg>', page, re.S)
    assert svg is not None
    panels = re.findall(r'<g class="panel".*?</g>\n(?=<g class="panel"|</svg>)', svg[0], re.S)
    titles = [re.search(r'class="panel-title"[^>]*><title>([^<]*)</title>', p) for p in panels]
    return {title[1]: panel for title, panel in zip(titles, panels, strict=True) if title}


def test_a_growing_activation_fails_and_its_panel_is_flagged(tmp_path):
    saved = _saved({("flat", None): 0.0, ("grows", 1): 1.0, ("flat", 0): 0.0})
    assert saved["verdict"] == "FAIL"
    report = coordcheck_report(saved, source=tmp_path)
    page = report.html
    assert '<td class="check-FAIL">FAIL</td>' in page
    panels = _panels(page)
    assert set(panels) == {"flat", "grows · layer 1", "flat · layer 0"}
    grows = panels["grows · layer 1"]
    assert 'data-worst="true"' in grows and ">worst</text>" in grows
    assert 'stroke="#cf222e" stroke-width="2"' in grows  # the red frame
    assert 'data-worst="false"' in panels["flat"] and ">worst<" not in panels["flat"]
    for panel in panels.values():
        steps = re.findall(r'<g class="step-line" data-step="(\d+)"', panel)
        assert steps == ["0", "1", "2", "3"]
        assert ">width</text>" in panel and ">mean |x|</text>" in panel
        assert re.findall(r'class="tick"[^>]*>(\d+)</text>', panel)[:4] == [
            "32",
            "64",
            "128",
            "256",
        ]
    # steps before the judged ones are dashed, the judged ones solid
    first = re.search(r'data-step="0".*?<polyline[^>]*>', grows, re.S)
    last = re.search(r'data-step="3".*?<polyline[^>]*>', grows, re.S)
    assert first is not None and "stroke-dasharray" in first[0]
    assert last is not None and "stroke-dasharray" not in last[0]
    assert report.images["report_coordcheck.svg"].decode().startswith("<svg")


def _y(panel: str, step: int) -> list[float]:
    line = re.search(rf'data-step="{step}".*?<polyline points="([^"]*)"', panel, re.S)
    assert line is not None
    return [float(point.split(",")[1]) for point in line[1].split()]


def test_a_flat_line_is_drawn_flat_and_a_slope_of_one_rises(tmp_path):
    saved = _saved({("flat", None): 0.0, ("grows", 1): 1.0})
    panels = _panels(coordcheck_report(saved, source=tmp_path).html)
    flat = _y(panels["flat"], 3)
    assert max(flat) - min(flat) < 4  # 1 % seed noise over a panel ~130 px high: a few px
    grows = _y(panels["grows · layer 1"], 3)
    assert all(b < a for a, b in itertools.pairwise(grows))  # rises (SVG y down)
    assert grows[0] - grows[-1] > 80


def test_a_passing_check_flags_nothing(tmp_path):
    saved = _saved({("flat", None): 0.0, ("also_flat", 0): 0.02})
    saved["verdict"], saved["worst"] = "PASS", []
    page = coordcheck_report(saved, source=tmp_path).html
    assert ">worst<" not in page and ">FAIL</text>" not in page
    assert '<td class="check-PASS">PASS</td>' in page


def test_a_wide_user_model_draws_at_most_max_panels(tmp_path):
    names = {(f"m{i}", None): (1.0 if i == 70 else 0.0) for i in range(MAX_PANELS + 12)}
    saved = _saved(names)
    panels = _panels(coordcheck_report(saved, source=tmp_path).html)
    assert len(panels) == MAX_PANELS and "m70" in panels  # the one that grows is kept
    assert (
        "12 panel(s) nearest to flat are left out" in coordcheck_report(saved, source=tmp_path).html
    )


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.003, 0.5, [0.01, 0.1]),  # decades
        (0.02, 0.09, [0.02, 0.05]),  # 1-2-5 within one decade
        (0.11, 0.19, [0.15]),  # finer steps when 1-2-5 miss: only 0.15 falls inside
    ],
)
def test_log_ticks(low, high, expected):
    ticks = log_ticks(low, high)
    if len(expected) >= 2:
        assert ticks == pytest.approx(expected)
    else:
        assert all(low <= t <= high for t in ticks) and len(ticks) >= 1


def test_linear_ticks():
    assert linear_ticks(-0.13, 0.52) == pytest.approx([-0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert linear_ticks(0.0, 1.0, target=4) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert linear_ticks(1.0, 1.0) == []
    assert all(math.isfinite(t) for t in linear_ticks(-1e-9, 1e-9))


def test_harness_report_on_a_saved_check_folder(tmp_path):
    from harness.cli import main
    from harness.store.command_results import write_command_result

    folder = tmp_path / "check"
    write_command_result(folder, "coordcheck", _saved({("flat", None): 0.0, ("grows", 1): 1.0}))
    assert main(["report", str(folder)]) == 0
    page = (folder / "report.html").read_text()
    assert '<svg class="coordcheck-plot"' in page and "coordcheck: a known model" in page
    assert (folder / "report_coordcheck.svg").is_file() and (folder / "report.md").is_file()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"command": "coordcheck", "version": 1}', "not a complete coordinate check result"),
        ("{oops", "cannot read the coordcheck result"),
        ('{"command": "coordcheck", "version": 99}', "written by a newer harness"),
        ('{"command": "bisect", "version": 1}', "not a saved coordcheck result"),
    ],
)
def test_a_damaged_saved_check_is_one_clear_line(tmp_path, capsys, text, said):
    from harness.cli import main

    (tmp_path / "coordcheck.json").write_text(text)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert said in err and "coordcheck.json" in err and "Traceback" not in err


def test_a_long_module_name_keeps_its_end_and_shows_whole_on_hover(tmp_path):
    name = "transformer.h.11.attn.c_attn.lora_A"
    saved = _saved({(name, None): 1.0, ("flat", None): 0.0})
    panel = _panels(coordcheck_report(saved, source=tmp_path).html)[name]
    assert f"<title>{name}</title>…" in panel and name[-29:] + "</text>" in panel
    assert ">FAIL</text>" in panel and 'stroke="#cf222e" stroke-width="2"' in panel


def test_the_worst_of_an_inconclusive_check_is_amber_not_red(tmp_path):
    saved = _saved({("flat", None): 0.0, ("tilted", 0): 0.3})
    saved["verdict"] = "INCONCLUSIVE"
    saved["worst"] = [{"activation": "tilted", "layer": 0, "slope": 0.3}]
    saved["exponents"] = [
        row | {"status": "uncertain"} if row["activation"] == "tilted" else row
        for row in saved["exponents"]
    ]
    panel = _panels(coordcheck_report(saved, source=tmp_path).html)["tilted · layer 0"]
    assert ">worst</text>" in panel and 'stroke="#9a6700" stroke-width="2"' in panel
