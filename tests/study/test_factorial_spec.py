"""``[factors]``: cells named from their levels, fractions from pyDOE3 with their aliases, and
bad input as errors that name the key (exit 2 through the CLI)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness.errors import SpecError
from harness.study.spec import load_study

PYTHON = sys.executable

BUILTIN = """\
[study]
name = "protections"
seeds = 2

[base]
model.attention = "selective"
model.n_layer = 1

[factors]
"model.protect_bos" = [true, false]
"model.allow_masking_myself" = [false, true]
"""

FRACTION = """\
[study]
name = "switches"
seeds = 2

[base]
command = "python train.py --a {a} --b {b} --c {c} --d {d} --e {e}"
params = { a = 0, b = 0, c = 0, d = 0, e = 0 }

[factors]
design = "fraction"
resolution = RESOLUTION
"params.a" = [0, 1]
"params.b" = [0, 1]
"params.c" = [0, 1]
"params.d" = [0, 1]
FIFTH
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(text))
    return path


def fraction(tmp_path: Path, resolution: int, five: bool = False) -> Path:
    text = FRACTION.replace("RESOLUTION", str(resolution))
    return write(tmp_path, text.replace("FIFTH", '"params.e" = [0, 1]' if five else ""))


def test_full_factorial_cells_are_named_from_levels_with_the_baseline_first(
    tmp_path: Path,
) -> None:
    spec = load_study(write(tmp_path, BUILTIN))
    names = [v.name for v in spec.variants]
    assert names == [
        "protect_bos-true_allow_masking_myself-false",
        "protect_bos-true_allow_masking_myself-true",
        "protect_bos-false_allow_masking_myself-false",
        "protect_bos-false_allow_masking_myself-true",
    ]
    assert spec.baseline == names[0]
    cell = spec.variant("protect_bos-false_allow_masking_myself-true")
    assert cell.config["model"]["protect_bos"] is False
    assert cell.config["model"]["allow_masking_myself"] is True
    assert cell.config["model"]["n_layer"] == 1  # the base reaches every cell
    stored = spec.to_dict()["factorial"]
    assert stored["design"] == "full"
    assert stored["cells"][names[3]] == {
        "model.protect_bos": False,
        "model.allow_masking_myself": True,
    }


def test_unquoted_dotted_factor_keys_read_the_same(tmp_path: Path) -> None:
    text = BUILTIN.replace('"model.protect_bos"', "model.protect_bos").replace(
        '"model.allow_masking_myself"', "model.allow_masking_myself"
    )
    assert [v.name for v in load_study(write(tmp_path, text)).variants] == [
        v.name for v in load_study(write(tmp_path, BUILTIN)).variants
    ]


def test_a_half_fraction_of_four_factors_is_resolution_four_and_runs_the_baseline(
    tmp_path: Path,
) -> None:
    spec = load_study(fraction(tmp_path, 4))
    design = spec.factorial
    assert design is not None and design.design == "fraction" and design.resolution == 4
    assert len(design.cells) == 8
    assert spec.baseline == "a-0_b-0_c-0_d-0" == design.cells[0].variant
    levels = np.array([[2 * v - 1 for v in cell.values] for cell in design.cells])
    # Every pair of columns is balanced (orthogonal), and d is ± abc: the defining relation.
    for i, j in itertools.combinations(range(4), 2):
        assert levels[:, i] @ levels[:, j] == 0
    assert abs(np.prod(levels, axis=1).sum()) == 8
    assert design.defining_relation == ("I = a:b:c:d",)
    assert "a:b = c:d" in design.aliases
    assert "a = b:c:d" in design.aliases


def test_a_resolution_five_fraction_of_five_factors_needs_a_sign_to_run_the_baseline(
    tmp_path: Path,
) -> None:
    # pyDOE3's generator is e = abcd, whose all-first-level run has e at its second level;
    # the sign flips it so that the baseline cell is in the fraction.
    spec = load_study(fraction(tmp_path, 5, five=True))
    design = spec.factorial
    assert design is not None and design.resolution == 5 and len(design.cells) == 16
    assert design.cells[0].values == (0, 0, 0, 0, 0)
    assert design.generators == ("e = -a:b:c:d",)
    assert design.defining_relation == ("I = -a:b:c:d:e",)
    assert "a:b = -c:d:e" in design.aliases


def test_validate_prints_the_cells_and_the_aliases(tmp_path: Path) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "harness", "validate", str(fraction(tmp_path, 4))],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "resolution IV fraction, 8 of 16 cells; baseline cell a-0_b-0_c-0_d-0" in result.stdout
    assert "defining relation: I = a:b:c:d" in result.stdout
    assert "  a:c = b:d" in result.stdout
    assert "  a-1_b-1_c-0_d-0: a=1, b=1, c=0, d=0" in result.stdout


@pytest.mark.parametrize(
    ("replace", "by", "key", "message"),
    [
        ('"model.protect_bos"', '"model.protect_bso"', "factors.model.protect_bso", "unknown key"),
        ("[true, false]", '["yes", false]', "factors.model.protect_bos", "level 'yes'"),
        ("[true, false]", "[true]", "factors.model.protect_bos", "at least two levels"),
        ("[true, false]", "[true, true]", "factors.model.protect_bos", "twice"),
        ('"model.protect_bos"', '"protect_bos"', "factors.protect_bos", "dotted config key"),
    ],
)
def test_bad_factors_name_the_key(
    tmp_path: Path, replace: str, by: str, key: str, message: str
) -> None:
    with pytest.raises(SpecError) as error:
        load_study(write(tmp_path, BUILTIN.replace(replace, by, 1)))
    assert error.value.key == key
    assert message in error.value.message


def test_an_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as error:
        load_study(write(tmp_path, BUILTIN.replace('"model.protect_bos"', '"model.protect_bso"')))
    assert error.value.suggestion == "factors.model.protect_bos"


def test_a_factor_also_set_by_a_variant_is_an_error(tmp_path: Path) -> None:
    text = BUILTIN + "\n[variants.plain]\nmodel.protect_bos = false\n"
    with pytest.raises(SpecError) as error:
        load_study(write(tmp_path, text))
    assert error.value.key == "variants.plain.model.protect_bos"
    assert "is a factor" in error.value.message
    assert error.value.line is not None


def test_a_variant_beside_the_factorial_that_sets_other_keys_joins_it(tmp_path: Path) -> None:
    text = BUILTIN + '\n[variants.plain]\nmodel.attention = "mha"\n'
    spec = load_study(write(tmp_path, text))
    assert spec.variants[0].name == "plain"
    assert spec.baseline == "protect_bos-true_allow_masking_myself-false"


def test_a_fraction_of_two_factors_is_an_error(tmp_path: Path) -> None:
    text = BUILTIN.replace("[factors]\n", '[factors]\ndesign = "fraction"\n')
    with pytest.raises(SpecError) as error:
        load_study(write(tmp_path, text))
    assert error.value.key == "factors.design"
    assert "four or more two-level factors" in error.value.message


def test_no_fraction_of_four_factors_reaches_resolution_five(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as error:
        load_study(fraction(tmp_path, 5))
    assert error.value.key == "factors.resolution"
    assert "full factorial (16 cells)" in error.value.message


def test_a_command_factor_needs_its_placeholder(tmp_path: Path) -> None:
    text = FRACTION.replace("RESOLUTION", "4").replace("FIFTH", '"params.width" = [1, 2]')
    with pytest.raises(SpecError) as error:
        load_study(write(tmp_path, text))
    assert error.value.key == "factors.params.width"
    assert "{width}" in error.value.message


def test_levels_that_clash_in_one_cell_name_the_cell(tmp_path: Path) -> None:
    text = BUILTIN.replace('model.attention = "selective"', 'model.attention = "mha"').replace(
        '"model.protect_bos" = [true, false]\n"model.allow_masking_myself" = [false, true]',
        '"model.attention" = ["mha", "selective"]\n"model.qk_norm" = [false, true]',
    )
    with pytest.raises(SpecError) as error:
        load_study(write(tmp_path, text))
    assert error.value.key == "factors"
    assert "attention-selective_qk_norm-true" in error.value.message


@pytest.mark.parametrize(
    ("replace", "by", "key"),
    [
        ('"model.protect_bos"', '"model.protect_bso"', "factors.model.protect_bso"),
        ("[true, false]", '["yes", false]', "factors.model.protect_bos"),
        ('"model.allow_masking_myself" = [false, true]', 'design = "fraction"', "factors.design"),
    ],
)
def test_the_cli_exits_2_naming_the_key(tmp_path: Path, replace: str, by: str, key: str) -> None:
    path = write(tmp_path, BUILTIN.replace(replace, by, 1))
    result = subprocess.run(
        [PYTHON, "-m", "harness", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert key in result.stderr
    assert "Traceback" not in result.stderr


def test_the_factor_also_set_by_a_variant_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, BUILTIN + "\n[variants.plain]\nmodel.allow_masking_myself = true\n")
    result = subprocess.run(
        [PYTHON, "-m", "harness", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "variants.plain.model.allow_masking_myself" in result.stderr
    assert "Traceback" not in result.stderr
