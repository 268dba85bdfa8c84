"""The importer's fast readers read what the reference readers read, every point of it.

- wandb: the column-wise reading (harness/importers/wandb_log.py) against the record-by-record
  one (the worker's read_run_dir), on the fixtures and on runs written by wandb with odd values
  (fixtures/odd: dicts, text, NaN, infinities, summaries set by hand, a removed summary key).
- TensorBoard: harness/importers/tb_events.py against TensorBoard's own EventAccumulator (told
  to keep every point), on the fixtures and on event files written here by TensorBoard's own
  writer: 12,000 points of a tag (the accumulator's default keeps 10,000), a restart that purges
  points, TF2-style tensor scalars, an old file whose steps go back; a damaged record names the
  run, a record cut short ends the file as in TensorBoard.
- A pile of runs read in processes is read as in one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_helpers import LOGS

from harness.importers.csv import LightningCsvSource

ODD = Path(__file__).parent / "fixtures" / "odd"


def wandb_run_folders(root: Path) -> list[Path]:
    return sorted(p for p in (root / "wandb").glob("*run-*") if p.is_dir())


@pytest.mark.parametrize(
    "folder",
    wandb_run_folders(LOGS / "wandb_offline") + wandb_run_folders(ODD),
    ids=lambda p: p.name,
)
def test_the_column_wise_wandb_reading_reads_what_the_reference_reads(folder: Path) -> None:
    from harness.importers.wandb_local import _read_record_by_record
    from harness.importers.wandb_log import NotColumnar, read_wandb_folder

    reference = _read_record_by_record(folder)
    try:
        fast = read_wandb_folder(folder)
    except NotColumnar as why:
        assert "summary key removed" in str(why)  # the one odd run it hands back
        return
    assert fast.curve.equals(reference.curve, null_equal=True)
    assert fast.curve.columns == reference.curve.columns
    assert (fast.config, fast.name, fast.group, fast.exit_code, fast.started_at) == (
        reference.config,
        reference.name,
        reference.group,
        reference.exit_code,
        reference.started_at,
    )


def test_the_odd_wandb_runs_are_read_column_wise_and_keep_their_odd_values() -> None:
    import math

    from harness.importers.wandb_log import read_wandb_folder

    curves = [read_wandb_folder(f).curve for f in wandb_run_folders(ODD)[:2]]
    odd = next(c for c in curves if "spiky" in c.columns)
    spiky = dict(zip(odd["step"], odd["spiky"], strict=True))
    assert math.isnan(spiky[9]) and spiky[12] == math.inf and spiky[15] == -math.inf
    assert odd.filter(odd["step"] == 27)["train/loss"].item() == 0.123
    assert {"grad/norm", "grad/max", "best_loss", "val/acc/max"} <= set(odd.columns)
    assert "note" not in odd.columns  # text is no metric
    implicit = next(c for c in curves if "loss" in c.columns)
    assert implicit["step"].to_list() == [0, 1, 2]


# -- TensorBoard ------------------------------------------------------------------------------


def reference_points(folder: Path) -> dict[str, list[tuple[int, float, float]]]:
    """Every scalar point TensorBoard's EventAccumulator keeps when told to keep all."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    points = {
        tag: [(e.step, e.value, e.wall_time) for e in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }
    for tag in accumulator.Tags()["tensors"]:
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name == "scalars":
            points[tag] = [
                (e.step, float(tensor_util.make_ndarray(e.tensor_proto).item()), e.wall_time)
                for e in accumulator.Tensors(tag)
            ]
    return points


def fast_points(folder: Path) -> dict[str, list[tuple[int, float, float]]]:
    from harness.importers.tb_events import read_run_events

    events = read_run_events(sorted(folder.glob("events.out.tfevents.*")))
    return {
        tag: [tuple(p) for p in points]  # type: ignore[misc]
        for tag, points in {**events.scalars, **events.tensors}.items()
    }


def write_events(folder: Path, events: list, *, file_version: bool = True) -> None:
    """Event files written by TensorBoard's own writers (the file_version event included by
    EventFileWriter; without it, records written one by one by its RecordWriter)."""
    folder.mkdir(parents=True, exist_ok=True)
    if file_version:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        writer = EventFileWriter(str(folder), max_queue_size=100_000)
        for event in events:
            writer.add_event(event)
        writer.close()
        return
    from tensorboard.summary.writer.record_writer import RecordWriter

    with (folder / "events.out.tfevents.1.old").open("wb") as handle:
        records = RecordWriter(handle)
        for event in events:
            records.write(event.SerializeToString())
        records.flush()


def scalar(step: int, tag: str, value: float):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=1000.0 + step, step=step, summary=summary)


def tensor_scalar(step: int, tag: str, value: float, *, metadata: bool):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2

    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value])
    value_proto = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if metadata:
        value_proto.metadata.plugin_data.plugin_name = "scalars"
    summary = summary_pb2.Summary(value=[value_proto])
    return event_pb2.Event(wall_time=2000.0 + step, step=step, summary=summary)


def restart(step: int):
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=3000.0, step=step, session_log=event_pb2.SessionLog(status=1))


@pytest.mark.parametrize("folder", sorted((LOGS / "tensorboard").iterdir()), ids=lambda p: p.name)
def test_the_tensorboard_fixtures_read_as_tensorboard_reads_them(folder: Path) -> None:
    assert fast_points(folder) == reference_points(folder)


def test_every_point_of_a_long_tag_is_read(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    write_events(
        tmp_path / "run", [scalar(step, "loss", 1.0 / (step + 1)) for step in range(12_000)]
    )
    points = fast_points(tmp_path / "run")
    assert [p[0] for p in points["loss"]] == list(range(12_000))
    assert points == reference_points(tmp_path / "run")
    # what reading with the accumulator's defaults would have lost
    default = EventAccumulator(str(tmp_path / "run"))
    default.Reload()
    assert len(default.Scalars("loss")) == 10_000


def test_a_restart_tensors_and_steps_going_back_read_as_in_tensorboard(tmp_path: Path) -> None:
    restarted = [scalar(s, "loss", float(s)) for s in range(10)]
    restarted += [restart(5)] + [scalar(s, "loss", 100.0 + s) for s in range(5, 8)]
    write_events(tmp_path / "restarted", restarted)
    assert [p[:2] for p in fast_points(tmp_path / "restarted")["loss"]] == [
        (s, float(s)) for s in range(5)
    ] + [(s, 100.0 + s) for s in range(5, 8)]
    assert fast_points(tmp_path / "restarted") == reference_points(tmp_path / "restarted")

    tensors = [tensor_scalar(s, "acc", s / 10, metadata=s == 0) for s in range(6)]
    write_events(tmp_path / "tensors", tensors)
    assert len(fast_points(tmp_path / "tensors")["acc"]) == 6
    assert fast_points(tmp_path / "tensors") == reference_points(tmp_path / "tensors")

    going_back = [scalar(s, "loss", float(s)) for s in range(10)]
    going_back += [scalar(s, "loss", -1.0) for s in range(4, 6)]
    write_events(tmp_path / "old", going_back, file_version=False)
    assert len(fast_points(tmp_path / "old")["loss"]) == 6
    assert fast_points(tmp_path / "old") == reference_points(tmp_path / "old")


def test_a_record_cut_short_ends_the_file_and_a_damaged_one_names_the_run(tmp_path, capsys):
    from import_helpers import harness

    logs = tmp_path / "logs"
    for name in ("a-s0", "a-s1", "b-s0", "b-s1"):
        write_events(
            logs / f"attn={name[0]},seed={name[-1]}",
            [scalar(s, "loss", 1.0 + s) for s in range(20)],
        )
    cut = next((logs / "attn=a,seed=0").glob("events*"))
    cut.write_bytes(cut.read_bytes()[:-3])  # a writer still writing its last record
    assert len(fast_points(cut.parent)["loss"]) == 19 == len(reference_points(cut.parent)["loss"])
    damaged = next((logs / "attn=b,seed=1").glob("events*"))
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern inside a record
    damaged.write_bytes(bytes(data))
    code, out, err = harness(
        capsys, "import-runs", "tensorboard", str(logs), "-o", str(tmp_path / "s")
    )
    assert code == 0, err
    assert "imported 3 of 4 runs" in out
    assert "warning: attn=b,seed=1: could not be read: an event file is damaged" in err


# -- many runs, many processes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "folder"),
    [("tensorboard", "tensorboard"), ("wandb", "wandb_offline"), ("mlflow", "mlruns")],
)
def test_runs_read_in_processes_are_the_runs_read_in_one(source, folder, monkeypatch) -> None:
    from harness.importers import reading
    from harness.importers.session import ImportSettings, _source

    source_of = _source(ImportSettings(source=source, location=str(LOGS / folder)))
    refs = source_of.find_runs()
    serial, _ = reading.read_runs(source_of, refs)
    monkeypatch.setattr(reading, "PROCESS_POOL_MIN_RUNS", 1)
    monkeypatch.setattr(reading, "_processes", lambda: 2)
    advanced: list[int] = []
    pooled, _ = reading.read_runs(source_of, refs, advance=lambda: advanced.append(1))
    assert len(advanced) == len(refs)
    assert [r.run_id for r in pooled] == [r.run_id for r in serial]
    for a, b in zip(pooled, serial, strict=True):
        assert a.curve.equals(b.curve, null_equal=True)
        assert (a.config, a.state, a.name) == (b.config, b.state, b.name)


class DyingLightningSource(LightningCsvSource):
    """Lightning logs whose reading processes die at their first run (as one killed for
    memory would); read in this process, its runs read as usual."""

    def read_run(self, ref):
        import multiprocessing
        import os

        if multiprocessing.parent_process() is not None:
            os._exit(1)
        return super().read_run(ref)


def test_runs_are_still_read_when_a_reading_process_dies(monkeypatch) -> None:
    from harness.importers import reading

    monkeypatch.setattr(reading, "PROCESS_POOL_MIN_RUNS", 1)
    monkeypatch.setattr(reading, "_processes", lambda: 2)
    source = DyingLightningSource(str(LOGS / "lightning"))
    refs = source.find_runs()
    runs, unreadable = reading.read_runs(source, refs)
    assert len(runs) == len(refs) == 15 and not unreadable
