"""``harness import-commands FILE``: a ``name:command`` list becomes a study file that
``harness validate`` accepts; bad lists are clear errors (exit 2, no traceback).

The real list is seed 000's head-mixing round (``tests/fixtures/import_commands/``, copied
byte for byte, its mis-encoded "×" included).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.study.import_commands import parse_command_list

E88_ROUND8 = Path(__file__).parents[1] / "fixtures" / "import_commands" / "e88_round8.txt"
E88_VARIANTS = ["concat", "wsum", "perhead", "inputw", "sum", "h32n32"]


def import_commands(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["import-commands", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def validate(capsys: pytest.CaptureFixture[str], study: Path) -> str:
    code = main(["validate", str(study)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def write_list(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ablations.txt"
    path.write_text(text)
    return path


def test_the_real_list_becomes_a_valid_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "round8.toml"
    code, _, err = import_commands(capsys, str(E88_ROUND8), "-o", str(study), "--seeds", "4")
    assert code == 0, err

    parsed = tomllib.loads(study.read_text())
    assert parsed["study"] == {
        "name": "e88_round8",  # the file's stem
        "metric": "val_loss",
        "direction": "minimize",
        "seeds": 4,
        "baseline": "E88h_concat",  # the first line
    }
    variants = parsed["variants"]
    assert list(variants) == [f"E88h_{name}" for name in E88_VARIANTS]
    for name, variant in variants.items():
        # the fixed seed and output directory became placeholders; the rest stays as written
        assert variant["command"] == (
            f"python train.py --level {name} --dim {1792 if name == 'E88h_h32n32' else 2176} "
            "--expansion 1.0 --n_state 32 --data data/pile.txt --depth 20 --batch_size 32 "
            "--chunk_size 512 --lr 3e-4 --warmup_steps 100 --seed {seed} --bf16 "
            "--train_minutes 10 --output {run_dir}"
        )
        assert f"{name}: --seed 42 -> --seed {{seed}}" in err
        output = f"benchmark_results/e88_ablation_r8/{name}"
        assert f"{name}: --output {output} -> --output {{run_dir}}" in err
    assert "warning" not in err  # every line has its --seed
    # a comment just above a line describes it; the file's header comments describe none
    text = study.read_text()
    assert (
        "# weighted_sum: learnable scalar per head, then smaller o_proj\n[variants.E88h_wsum]"
        in (text)
    )
    assert "Head mixing strategies" not in text

    out = validate(capsys, study)
    assert "6 variants x 4 seeds = 24 runs" in out


def test_without_output_the_study_goes_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = import_commands(capsys, str(E88_ROUND8), "--name", "round 8!")
    assert code == 0
    parsed = tomllib.loads(out)
    assert parsed["study"]["name"] == "round_8"
    assert len(parsed["variants"]) == 6


def test_names_are_sanitized_into_single_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = write_list(
        tmp_path,
        "base line:python t.py --seed=3\n"
        "lr.1e-3:python t.py --seed 3 --lr 1e-3\n"  # a dot: one variant, not nested tables
        "héad/mix (v2):python t.py --seed 3 --out somewhere\n",
    )
    study = tmp_path / "study.toml"
    code, _, err = import_commands(capsys, str(listing), "-o", str(study))
    assert code == 0, err
    variants = tomllib.loads(study.read_text())["variants"]
    assert list(variants) == ["base_line", "lr.1e-3", "h_ad_mix_v2"]
    assert variants["base_line"]["command"] == "python t.py --seed {seed}"
    assert variants["h_ad_mix_v2"]["command"] == "python t.py --seed {seed} --out {run_dir}"
    assert "base_line: name 'base line' -> 'base_line'" in err
    assert "h_ad_mix_v2: name 'héad/mix (v2)' -> 'h_ad_mix_v2'" in err

    out = validate(capsys, study)
    assert "study 'ablations'" in out
    assert "3 variants x 3 seeds = 9 runs" in out


def test_a_line_without_seed_is_a_warning_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = write_list(tmp_path, "a:python t.py --seed 1\nb:python t.py\n")
    code, out, err = import_commands(capsys, str(listing))
    assert code == 0
    assert "warning: b: no --seed flag; every seed runs the same command" in err
    assert "warning: a:" not in err
    assert tomllib.loads(out)["variants"]["b"]["command"] == "python t.py"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a b:python t.py --seed 1\na_b:python t.py --seed 2\n",
            "ablations.txt:2: a second variant named 'a_b'",
        ),
        (
            "# header\n\nbase:python t.py\njust a command without a name\n",
            "ablations.txt:4: expected 'name:command', got 'just a command without a name'",
        ),
        ("base:\n", "ablations.txt:1: expected 'name:command', got 'base:'"),
        (":python t.py\n", "ablations.txt:1: expected 'name:command'"),
        (
            "base:python t.py --note 'unclosed\n",
            "ablations.txt:1: cannot split the command: No closing quotation",
        ),
        ("# only comments\n\n   \n", "ablations.txt: no 'name:command' lines found"),
    ],
    ids=["duplicate", "no-colon", "no-command", "no-name", "bad-quotes", "empty"],
)
def test_bad_lists_are_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    study = tmp_path / "study.toml"
    code, out, err = import_commands(capsys, str(write_list(tmp_path, text)), "-o", str(study))
    assert code == 2
    assert err.startswith("harness import-commands: error: ")
    assert message in err
    assert out == ""
    assert not study.exists(), "nothing is written from a bad list"


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = import_commands(capsys, str(tmp_path / "nope.txt"))
    assert code == 2
    assert "nope.txt: no such file" in err


def test_in_a_subprocess_a_bad_list_exits_2_without_traceback(tmp_path: Path) -> None:
    listing = write_list(tmp_path, "a:python t.py\na:python u.py\n")
    result = subprocess.run(
        [sys.executable, "-m", "harness", "import-commands", str(listing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "ablations.txt:2: a second variant named 'a'" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        "python t.py --system.seed={seed}",
        "python t.py seed={seed} lr=1e-3",
        "python t.py --seed {seed:03d}",
        "sh -c 'python t.py --seed $HARNESS_SEED'",
    ],
)
def test_a_seed_passed_as_a_placeholder_is_no_missing_seed(command: str) -> None:
    result = parse_command_list(f"a:{command}\n")
    assert result.warnings == ()
