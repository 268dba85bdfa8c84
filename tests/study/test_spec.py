"""Study files: the documented shape parses, and every error names file, line, key and fix."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.study.spec import apply_override, config_hash, default_seeds, load_study, locate_key

PYTHON = sys.executable

# The study shape of issue 2, with an external command as the base so that it parses without
# the built-in trainer; the built-in form is tested below once harness.training.config exists.
COMMAND_STUDY = """\
[study]
name = "bos_protection"      # letters, digits, _ . -
description = "selective attention with and without BOS protection"
metric = "val_loss"          # the primary metric
direction = "minimize"       # or "maximize"; default minimize
seeds = 3                    # a count or a list
baseline = "selective"       # a variant name

[base]
command = "python train.py --seed {seed} --output {run_dir}"
env = { WANDB_MODE = "disabled" }
params.protect_bos = true
params.width = 64

[variants.selective]         # an empty table is the base unchanged
[variants.no_bos_protection]
params.protect_bos = false   # nested keys deep-merge onto [base]
"""


def require_builtin_trainer() -> None:
    """Skip until the built-in trainer's config exists; once it does, these tests must pass."""
    try:
        found = importlib.util.find_spec("harness.training.config") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        pytest.skip("harness.training.config does not exist yet")


def write(tmp_path: Path, text: str, name: str = "study.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def spec_error(tmp_path: Path, text: str, **kwargs: object) -> SpecError:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_study(path, **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert str(path) in str(error), f"the message does not name the file: {error}"
    return error


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(textwrap.dedent(text).splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the study text")


def replace(old: str, new: str, text: str = COMMAND_STUDY) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# -- the documented shape ------------------------------------------------------------------


def test_the_issue_study_shape_parses(tmp_path: Path) -> None:
    spec = load_study(write(tmp_path, COMMAND_STUDY))

    assert spec.name == "bos_protection"
    assert spec.description.startswith("selective attention")
    assert (spec.metric, spec.direction, spec.baseline) == ("val_loss", "minimize", "selective")
    assert spec.seeds == (0, 1, 2)
    assert [v.name for v in spec.variants] == ["selective", "no_bos_protection"]
    selective, unprotected = spec.variants
    assert selective.kind == unprotected.kind == "command"
    assert selective.overrides == {}
    assert selective.config == {
        "command": "python train.py --seed {seed} --output {run_dir}",
        "env": {"WANDB_MODE": "disabled"},
        "params": {"protect_bos": True, "width": 64},
    }
    # deep merge: the variant's nested key replaces one leaf, the sibling stays
    assert unprotected.config["params"] == {"protect_bos": False, "width": 64}
    assert selective.config_hash != unprotected.config_hash
    assert spec.variant("no_bos_protection") is unprotected
    assert spec.source == tmp_path / "study.toml"


def test_defaults_direction_baseline_and_seeds(tmp_path: Path) -> None:
    spec = load_study(
        write(
            tmp_path,
            """
            [study]
            name = "s"
            [base]
            command = "true"
            [variants.first]
            [variants.second]
            """,
        )
    )
    assert spec.direction == "minimize"
    assert spec.metric == "val_loss"
    assert spec.baseline == "first"
    assert spec.seeds == default_seeds(3) == (0, 1, 2)


def test_maximize_is_accepted(tmp_path: Path) -> None:
    text = replace('direction = "minimize"', 'direction = "maximize"')
    assert load_study(write(tmp_path, text)).direction == "maximize"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("seeds = 1", (0,)),
        ("seeds = 5", (0, 1, 2, 3, 4)),
        ("seeds = [1337, 1338]", (1337, 1338)),
        ("seeds = [7]", (7,)),
    ],
)
def test_seeds_as_count_or_list(tmp_path: Path, written: str, expected: tuple[int, ...]) -> None:
    text = replace("seeds = 3 ", f"{written} ")
    assert load_study(write(tmp_path, text)).seeds == expected


def test_growing_the_seed_count_keeps_the_earlier_seeds() -> None:
    assert default_seeds(5)[:3] == default_seeds(3)


def test_config_hash_is_stable_and_order_independent() -> None:
    a = {"command": "x", "params": {"lr": 1e-3, "width": 64}}
    b = {"params": {"width": 64, "lr": 1e-3}, "command": "x"}
    assert config_hash(a) == config_hash(b)
    assert len(config_hash(a)) == 16
    assert config_hash(a) != config_hash({**a, "command": "y"})


def test_variants_may_each_bring_their_own_command(tmp_path: Path) -> None:
    spec = load_study(
        write(
            tmp_path,
            """
            [study]
            name = "commands"
            [variants.a]
            command = "python a.py {seed}"
            [variants.b]
            command = "python b.py {seed}"
            env = { B = "1" }
            """,
        )
    )
    assert [v.kind for v in spec.variants] == ["command", "command"]
    assert spec.variant("b").config == {"command": "python b.py {seed}", "env": {"B": "1"}}


def test_a_command_variant_drops_the_builtin_tables_of_the_base(tmp_path: Path) -> None:
    require_builtin_trainer()
    spec = load_study(
        write(
            tmp_path,
            """
            [study]
            name = "mixed"
            [base]
            train.steps = 5
            [variants.builtin]
            [variants.external]
            command = "python train.py"
            """,
        )
    )
    assert spec.variant("builtin").kind == "builtin"
    assert spec.variant("external").kind == "command"
    assert spec.variant("external").config == {"command": "python train.py"}


# -- error paths ---------------------------------------------------------------------------


def test_unknown_top_level_table(tmp_path: Path) -> None:
    text = replace("[variants.no_bos_protection]", "[variant.no_bos_protection]")
    error = spec_error(tmp_path, text)
    assert error.key == "variant"
    assert error.suggestion == "variants"
    assert error.line == line_of(text, "[variant.no_bos_protection]")
    assert f":{error.line}:" in str(error)
    assert "did you mean 'variants'" in str(error)


def test_unknown_top_level_key_written_as_a_table(tmp_path: Path) -> None:
    text = COMMAND_STUDY + "\n[wandbb]\nproject = 'x'\n"
    error = spec_error(tmp_path, text)
    assert (error.key, error.suggestion) == ("wandbb", "wandb")
    assert error.line == line_of(text, "[wandbb]")


def test_unknown_study_key_suggests_the_closest(tmp_path: Path) -> None:
    text = replace("seeds = 3 ", "seed = 3 ")
    error = spec_error(tmp_path, text)
    assert error.key == "study.seed"
    assert error.suggestion == "study.seeds"
    assert error.line == line_of(text, "seed = 3")
    message = str(error)
    assert f"{tmp_path / 'study.toml'}:{error.line}: key 'study.seed'" in message
    assert "did you mean 'study.seeds'?" in message


def test_wrong_type_for_seeds(tmp_path: Path) -> None:
    text = replace("seeds = 3 ", 'seeds = "three" ')
    error = spec_error(tmp_path, text)
    assert error.key == "study.seeds"
    assert error.line == line_of(text, "seeds =")
    assert "'three'" in str(error)


@pytest.mark.parametrize(
    "written",
    ["seeds = 0", "seeds = -2", "seeds = []", "seeds = [1, 1]", "seeds = [1, -1]", "seeds = true"],
)
def test_bad_seed_values(tmp_path: Path, written: str) -> None:
    text = replace("seeds = 3 ", f"{written} ")
    error = spec_error(tmp_path, text)
    assert error.key == "study.seeds"
    assert error.line == line_of(text, "seeds =")


def test_wrong_type_for_a_string_key(tmp_path: Path) -> None:
    text = replace('metric = "val_loss"', "metric = 3")
    error = spec_error(tmp_path, text)
    assert error.key == "study.metric"
    assert error.line == line_of(text, "metric = 3")
    assert "expected a string" in str(error)


def test_bad_direction_suggests_the_closest_value(tmp_path: Path) -> None:
    text = replace('direction = "minimize"', 'direction = "minimise"')
    error = spec_error(tmp_path, text)
    assert error.key == "study.direction"
    assert error.suggestion == "minimize"
    assert error.line == line_of(text, "direction =")
    assert "'minimise'" in str(error)


def test_baseline_that_is_not_a_variant(tmp_path: Path) -> None:
    text = replace('baseline = "selective"', 'baseline = "selectve"')
    error = spec_error(tmp_path, text)
    assert error.key == "study.baseline"
    assert error.suggestion == "selective"
    assert error.line == line_of(text, "baseline =")
    assert "no_bos_protection" in str(error)  # the variants are listed


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SpecError) as info:
        load_study(missing)
    assert str(missing) in str(info.value)
    assert "not found" in str(info.value)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    text = replace('metric = "val_loss"', 'metric = "val_loss')
    error = spec_error(tmp_path, text)
    assert error.line == line_of(text, 'metric = "val_loss')
    assert "not valid TOML" in str(error)


def test_missing_study_table_and_missing_name(tmp_path: Path) -> None:
    error = spec_error(tmp_path, "[variants.a]\ncommand = 'x'\n")
    assert error.key == "study"
    error = spec_error(tmp_path, "[study]\nseeds = 1\n[variants.a]\ncommand = 'x'\n")
    assert error.key == "study.name"


def test_no_variants(tmp_path: Path) -> None:
    error = spec_error(tmp_path, "[study]\nname = 's'\n[base]\ncommand = 'x'\n")
    assert error.key == "variants"


@pytest.mark.parametrize("name", ["bos protection", "bos/protection", "bös", "", ".", ".."])
def test_bad_study_name(tmp_path: Path, name: str) -> None:
    text = replace('name = "bos_protection"', f'name = "{name}"')
    error = spec_error(tmp_path, text)
    assert error.key == "study.name"
    assert error.line == line_of(text, "name =")


@pytest.mark.parametrize("name", ["no bos", "a/b", "..", "."])
def test_bad_variant_name(tmp_path: Path, name: str) -> None:
    text = replace("[variants.no_bos_protection]", f'[variants."{name}"]')
    error = spec_error(tmp_path, text)
    assert error.key == f"variants.{name}"
    assert "variant names" in str(error)


def test_a_variant_must_be_a_table(tmp_path: Path) -> None:
    text = COMMAND_STUDY.replace("[variants.selective]", "[variants]\nselective = 3\n[variants.x]")
    error = spec_error(tmp_path, text)
    assert error.key == "variants.selective"


def test_command_and_builtin_keys_mixed_in_a_variant(tmp_path: Path) -> None:
    text = """
        [study]
        name = "mixed"
        [variants.a]
        command = "python a.py"
        model.protect_bos = false
        """
    error = spec_error(tmp_path, text)
    assert error.key == "variants.a.model"
    assert "command run takes only" in str(error)
    assert error.line == line_of(text, "model.protect_bos")


def test_command_and_builtin_keys_mixed_in_the_base(tmp_path: Path) -> None:
    text = replace("params.width = 64", "train.steps = 50")
    error = spec_error(tmp_path, text)
    assert error.key == "base.train"
    assert error.line == line_of(text, "train.steps")


def test_a_variant_of_a_command_base_cannot_add_builtin_keys(tmp_path: Path) -> None:
    text = replace("params.protect_bos = false", "model.protect_bos = false")
    error = spec_error(tmp_path, text)
    assert error.key == "variants.no_bos_protection.model"
    assert error.line == line_of(text, "model.protect_bos")


def test_unknown_command_key_suggests_the_closest(tmp_path: Path) -> None:
    text = replace("env = {", "envv = {")
    error = spec_error(tmp_path, text)
    assert (error.key, error.suggestion) == ("base.envv", "base.env")
    assert error.line == line_of(text, "envv =")


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ('command = ""', "base.command"),
        ("command = 3", "base.command"),
        ('command = "x"\nshell = "yes"', "base.shell"),
        ('command = "x"\nenv = { A = 1 }', "base.env"),
        ('command = "x"\nenv = "A=1"', "base.env"),
    ],
)
def test_bad_command_values(tmp_path: Path, written: str, key: str) -> None:
    text = f"[study]\nname = 's'\n[base]\n{written}\n[variants.a]\n"
    assert spec_error(tmp_path, text).key == key


def test_bad_wandb_settings(tmp_path: Path) -> None:
    text = COMMAND_STUDY + '\n[wandb]\nmode = "ofline"\n'
    error = spec_error(tmp_path, text)
    assert (error.key, error.suggestion) == ("wandb.mode", "offline")
    error = spec_error(tmp_path, COMMAND_STUDY + "\n[wandb]\nprojet = 'p'\n")
    assert (error.key, error.suggestion) == ("wandb.projet", "wandb.project")


def test_locate_key_finds_tables_dotted_keys_and_inline_tables() -> None:
    text = textwrap.dedent(
        """\
        [study]
        name = "x"  # a comment
        [base]
        env = { A = "1" }
        params.width = 64
        [variants.a]
        [variants."b c"]
        params.width = 32
        """
    )
    assert locate_key(text, "study.name") == 2
    assert locate_key(text, "base.env.A") == 4  # inside an inline table: its key's line
    assert locate_key(text, "base.params.width") == 5
    assert locate_key(text, "variants.a") == 6
    assert locate_key(text, "variants.b c.params.width") == 8
    assert locate_key(text, "variants.b c.params") == 8
    assert locate_key(text, "nothing") is None


# -- overrides: --set and --seeds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        ("base.params.steps=50", 50),
        ("base.params.steps = 50", 50),
        ("base.params.lr=3e-4", 3e-4),
        ("base.params.flag=true", True),
        ("base.params.flag=false", False),
        ('base.params.name="a b"', "a b"),
        ("base.params.name=plain", "plain"),
        ("base.params.name=with=equals", "with=equals"),
        ("base.params.widths=[1, 2, 3]", [1, 2, 3]),
        ("base.params.empty=", ""),
    ],
)
def test_set_parses_toml_values(assignment: str, expected: object) -> None:
    raw: dict[str, object] = {"base": {"params": {"steps": 1}}}
    apply_override(raw, assignment)
    key = assignment.partition("=")[0].strip().split(".")[-1]
    value = raw["base"]["params"][key]  # type: ignore[index]
    assert value == expected
    assert type(value) is type(expected)


def test_set_overrides_the_file_and_creates_missing_tables(tmp_path: Path) -> None:
    spec = load_study(
        write(tmp_path, COMMAND_STUDY),
        overrides=[
            "base.params.width=128",
            "variants.selective.params.extra=1",
            "study.metric=val_acc",
            'study.direction="maximize"',
            "variants.new_one.params.width=8",
        ],
    )
    assert spec.metric == "val_acc"
    assert spec.direction == "maximize"
    assert spec.variant("no_bos_protection").config["params"]["width"] == 128
    assert spec.variant("selective").config["params"] == {
        "protect_bos": True,
        "width": 128,
        "extra": 1,
    }
    assert spec.variant("new_one").config["params"]["width"] == 8


@pytest.mark.parametrize("assignment", ["base.params.steps", "=5", " =5"])
def test_set_without_key_or_value_is_an_error(tmp_path: Path, assignment: str) -> None:
    error = spec_error(tmp_path, COMMAND_STUDY, overrides=[assignment])
    assert "--set takes KEY=VALUE" in str(error)


def test_set_of_an_unknown_table_suggests_the_closest(tmp_path: Path) -> None:
    error = spec_error(tmp_path, COMMAND_STUDY, overrides=["bse.params.steps=5"])
    assert error.key == "bse.params.steps"
    assert error.suggestion == "base.params.steps"


def test_set_inside_a_non_table_is_an_error(tmp_path: Path) -> None:
    error = spec_error(tmp_path, COMMAND_STUDY, overrides=["study.name.x=1"])
    assert error.key == "study.name.x"


def test_set_a_bad_value_is_reported_like_the_file(tmp_path: Path) -> None:
    error = spec_error(tmp_path, COMMAND_STUDY, overrides=["study.direction=up"])
    assert error.key == "study.direction"
    assert "'up'" in str(error)


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [(5, (0, 1, 2, 3, 4)), (1, (0,)), ([4, 2], (4, 2)), ((9,), (9,))],
)
def test_seeds_override(tmp_path: Path, seeds: object, expected: tuple[int, ...]) -> None:
    spec = load_study(write(tmp_path, COMMAND_STUDY), seeds=seeds)  # type: ignore[arg-type]
    assert spec.seeds == expected


def test_seeds_override_is_validated(tmp_path: Path) -> None:
    assert spec_error(tmp_path, COMMAND_STUDY, seeds=0).key == "study.seeds"
    assert spec_error(tmp_path, COMMAND_STUDY, seeds=[1, 1]).key == "study.seeds"


# -- the built-in trainer's config (needs harness.training.config) ----------------------------

BUILTIN_STUDY = """\
[study]
name = "bos_protection"
metric = "val_loss"
direction = "minimize"
seeds = 3
baseline = "selective"

[base]
model.attention = "selective"
train.steps = 300

[variants.selective]
[variants.no_bos_protection]
model.protect_bos = false
"""


def test_builtin_study_shape(tmp_path: Path) -> None:
    require_builtin_trainer()
    spec = load_study(write(tmp_path, BUILTIN_STUDY))
    assert [v.kind for v in spec.variants] == ["builtin", "builtin"]
    assert spec.variant("no_bos_protection").config["model"] == {
        "attention": "selective",
        "protect_bos": False,
    }
    assert spec.variant("selective").config["train"] == {"steps": 300}


def test_builtin_unknown_model_key_suggests_the_closest(tmp_path: Path) -> None:
    require_builtin_trainer()
    text = BUILTIN_STUDY.replace("model.protect_bos = false", "model.protect_boss = false")
    error = spec_error(tmp_path, text)
    assert error.key == "variants.no_bos_protection.model.protect_boss"
    assert error.suggestion == "variants.no_bos_protection.model.protect_bos"
    assert error.line == line_of(text, "model.protect_boss")


def test_builtin_unknown_base_key_is_located_in_the_base(tmp_path: Path) -> None:
    require_builtin_trainer()
    text = BUILTIN_STUDY.replace("train.steps = 300", "train.stepz = 300")
    error = spec_error(tmp_path, text)
    assert error.key == "base.train.stepz"
    assert error.suggestion == "base.train.steps"
    assert error.line == line_of(text, "train.stepz")


def test_builtin_wrong_type(tmp_path: Path) -> None:
    require_builtin_trainer()
    text = BUILTIN_STUDY.replace("train.steps = 300", 'train.steps = "many"')
    error = spec_error(tmp_path, text)
    assert error.key == "base.train.steps"
    assert error.line == line_of(text, "train.steps")


def test_builtin_unknown_table(tmp_path: Path) -> None:
    require_builtin_trainer()
    text = BUILTIN_STUDY.replace("train.steps = 300", "trian.steps = 300")
    error = spec_error(tmp_path, text)
    assert error.key == "base.trian"
    assert error.suggestion == "base.train"


# -- harness validate ---------------------------------------------------------------------------


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [PYTHON, "-m", "harness", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_a_bad_file_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, replace("seeds = 3 ", "seed = 3 "))
    result = harness("validate", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{path}:" in result.stderr
    assert "study.seed" in result.stderr
    assert "did you mean 'study.seeds'" in result.stderr


def test_validate_a_missing_file_and_a_bad_set(tmp_path: Path) -> None:
    result = harness("validate", "missing.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.toml" in result.stderr
    assert "Traceback" not in result.stderr
    path = write(tmp_path, COMMAND_STUDY)
    result = harness("validate", str(path), "--set", "nonsense", cwd=tmp_path)
    assert result.returncode == 2
    assert "--set takes KEY=VALUE" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_a_good_file_prints_the_runs(tmp_path: Path) -> None:
    path = write(tmp_path, COMMAND_STUDY)
    result = harness("validate", str(path), "--seeds", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "is valid" in out
    assert "2 variants x 4 seeds = 8 runs" in out
    assert "selective" in out and "no_bos_protection" in out
    for variant in load_study(path, seeds=4).variants:
        assert variant.config_hash in out
        for seed in range(4):  # one line per run, naming its directory
            assert f"runs/{variant.name}/s{seed}" in out
    assert not (tmp_path / "runs").exists(), "validate must not create the study directory"


def test_validate_with_command_variants_does_not_need_the_trainer(tmp_path: Path) -> None:
    # Only command variants: validating them must not import harness.training (nor torch).
    path = write(
        tmp_path,
        """
        [study]
        name = "commands"
        [base]
        env = { SHARED = "1" }
        [variants.a]
        command = "python a.py"
        [variants.b]
        command = "python b.py"
        """,
    )
    code = (
        "import sys; from harness.study.spec import load_study; "
        f"spec = load_study({str(path)!r}); "
        "assert [v.kind for v in spec.variants] == ['command', 'command']; "
        "assert spec.variant('a').config['env'] == {'SHARED': '1'}; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# -- [executor] and [search]: typed at the door ------------------------------------------------


def test_executor_and_search_are_typed_on_the_spec(tmp_path: Path) -> None:
    from harness.study.executor import ExecutorSettings

    plain = load_study(write(tmp_path, COMMAND_STUDY))
    assert plain.executor == ExecutorSettings() and plain.search is None
    text = (
        COMMAND_STUDY.replace("--seed {seed}", "--seed {seed} --width {width}")
        + '\n[executor]\nkind = "slurm"\nsetup = ["module load cuda"]\n'
        + "\n[search]\ntrials = 4\n[search.space]\n"
        + "'params.width' = { type = 'int', low = 8, high = 64 }\n"
    )
    spec = load_study(write(tmp_path, text))
    assert spec.executor == ExecutorSettings(kind="slurm", setup=("module load cuda",))
    assert spec.search is not None
    assert (spec.search.trials, spec.search.variant, spec.search.seeds) == (
        4,
        "selective",
        spec.seeds,
    )
    assert spec.search.space["params.width"].high == 64


def test_a_search_value_that_breaks_the_variant_names_the_space_key(tmp_path: Path) -> None:
    require_builtin_trainer()
    text = """
        [study]
        name = "s"
        [base]
        train.steps = 10
        [variants.a]
        [search.space]
        "train.stepz" = { type = "int", low = 1, high = 5 }
        """
    error = spec_error(tmp_path, text)
    assert error.key == "search.space.train.stepz"
    assert error.suggestion == "search.space.train.steps"


def test_derive_variant_is_validated_like_a_study_variant(tmp_path: Path) -> None:
    from harness.study.variant import derive_variant

    spec = load_study(write(tmp_path, COMMAND_STUDY))
    parent = spec.variant("no_bos_protection")
    trial = derive_variant("trial-0001", spec.base, parent, {"params.width": 8})
    assert trial.kind == "command"
    assert trial.config["params"] == {"protect_bos": False, "width": 8}
    assert trial.overrides == {"params": {"protect_bos": False, "width": 8}}
    with pytest.raises(SpecError) as info:
        derive_variant("trial-0002", spec.base, parent, {"shel": True})
    assert info.value.key == "variants.trial-0002.shel"
    assert info.value.suggestion == "variants.trial-0002.shell"
    with pytest.raises(SpecError, match="only letters"):
        derive_variant("trial/3", spec.base, parent, {})


# -- validation at the door (issue 19): what used to pass validate and fail only at run time ---


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('name = "bos_protection"', 'name = "bos_protection\\n"', "study.name"),
        ("[variants.no_bos_protection]", '[variants."no_bos\\n"]', 'variants."no_bos\\n"'),
        ("[variants.no_bos_protection]", '[variants."no_bos\\r"]', 'variants."no_bos\\r"'),
    ],
)
def test_a_name_with_a_trailing_newline_is_refused(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    # "$" matches before a final newline: the study and variant names become directories
    error = spec_error(tmp_path, replace(old, new))
    assert error.key == key
    assert "\n" not in str(error)  # the message stays one line


def test_a_sweep_value_with_a_newline_gives_a_clean_variant_name(tmp_path: Path) -> None:
    text = COMMAND_STUDY + '[sweep.parameters]\n"params.tag" = ["a\\n", "b"]\n'
    names = [v.name for v in load_study(write(tmp_path, text)).variants]
    assert "tag-a" in names and all("\n" not in name for name in names)


def test_a_study_file_that_is_not_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_bytes(COMMAND_STUDY.replace("selective attention", "s\xe9lective").encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_study(path)
    assert str(path) in str(info.value) and "not UTF-8" in str(info.value)
    assert info.value.line == line_of(COMMAND_STUDY, "description =")


def test_nesting_too_deep_for_the_toml_reader_is_a_spec_error(tmp_path: Path) -> None:
    text = COMMAND_STUDY + "\n[variants.deep]\nparams.x = " + "[" * 5000 + "]" * 5000 + "\n"
    error = spec_error(tmp_path, text)
    assert "nested too deeply" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        # shlex cannot split it: the worker would fail at run time with "No closing quotation"
        (
            'command = "python train.py',
            "command = \"python 'train.py",
            "base.command",
            "no closing quotation",
        ),
        ("env = { WANDB_MODE", 'env = { "A=B" = "x", WANDB_MODE', 'base.env."A=B"', "'='"),
        ("env = { WANDB_MODE", 'env = { "" = "x", WANDB_MODE', 'base.env.""', "non-empty"),
        ('"disabled"', '"dis\\u0000abled"', "base.env.WANDB_MODE", "NUL"),
        ("{run_dir}", "{run_dir}\\u0000", "base.command", "NUL"),
        ("params.width = 64", 'params.width = ["a\\u0000"]', "base.params.width[0]", "NUL"),
        ("params.width = 64", 'params."w\\u0000" = 1', 'base.params."w\\u0000"', "NUL"),
    ],
)
def test_command_configs_that_cannot_run_are_refused_at_validate(
    tmp_path: Path, old: str, new: str, key: str, words: str
) -> None:
    error = spec_error(tmp_path, replace(old, new))
    assert error.key == key
    assert words in str(error)
    assert error.line is not None


def test_unbalanced_quotes_are_left_to_the_shell_with_shell_true(tmp_path: Path) -> None:
    text = replace('command = "python train.py', "shell = true\ncommand = \"python 'train.py")
    assert load_study(write(tmp_path, text)).variants[0].config["shell"] is True


@pytest.mark.parametrize("params", ["5", '"x"', "[1, 2]"])
def test_params_must_be_a_table(tmp_path: Path, params: str) -> None:
    text = replace("[variants.selective]", f"[variants.selective]\nparams = {params}")
    error = spec_error(tmp_path, text.replace("params.protect_bos = false", ""))
    assert error.key == "variants.selective.params"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+inf"])
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path: Path, value: str) -> None:
    require_builtin_trainer()
    text = f"[study]\nname = 's'\n[base]\ntrain.lr = {value}\n[variants.a]\n"
    error = spec_error(tmp_path, text)
    assert error.key == "base.train.lr"
    assert "finite" in str(error)
    assert error.line == 4


def test_the_validate_command_exits_2_on_each_gap(tmp_path: Path) -> None:
    from harness.cli import main

    cases = {
        "newline.toml": replace('name = "bos_protection"', 'name = "b\\n"').encode(),
        "latin1.toml": COMMAND_STUDY.replace("selective attention", "s\xe9l").encode("latin-1"),
        "quotes.toml": replace('command = "python', "command = \"'python").encode(),
        "env.toml": replace("env = { WANDB_MODE", 'env = { "A=B" = "", WANDB_MODE').encode(),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert main(["validate", str(tmp_path / name)]) == 2, name
