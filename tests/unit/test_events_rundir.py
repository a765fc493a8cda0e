"""The run journal and run directory: tailing by offset, partial lines, locks, status from events."""

from __future__ import annotations

import json
import subprocess
import sys

from engine.events import EventTail, EventWriter, read_events
from engine.rundir import RunLock, RunLocked, is_locked, last_checkpoint, list_runs, run_info


def test_tail_reads_only_new_complete_lines(tmp_path):
    writer = EventWriter(tmp_path)
    tail = EventTail(writer.path)
    writer.emit("start", stage="sft")
    assert [e["type"] for e in tail.read()] == ["start"]
    assert tail.read() == []
    with open(writer.path, "a") as fh:  # a writer caught mid-line
        fh.write('{"type": "step", "st')
    assert tail.read() == []
    with open(writer.path, "a") as fh:
        fh.write('ep": 3}\n')
    assert tail.read() == [{"type": "step", "step": 3}]


def test_non_finite_numbers_become_null(tmp_path):
    writer = EventWriter(tmp_path)
    writer.emit("step", loss=float("nan"), grad_norm=float("inf"))
    line = json.loads(writer.path.read_text())
    assert line["loss"] is None and line["grad_norm"] is None


def test_status_from_journal(tmp_path):
    for name, last, status in [("a", ("done", {"status": "done"}), "done"),
                               ("b", ("error", {"message": "boom"}), "failed"),
                               ("c", ("done", {"status": "stopped"}), "stopped"),
                               ("d", ("step", {"step": 1}), "stopped")]:
        writer = EventWriter(tmp_path / name)
        writer.emit("start", stage="sft", model="m", max_steps=10)
        writer.emit(last[0], **last[1])
        writer.close()
        assert run_info(tmp_path / name).status == status
    assert len(list_runs(tmp_path)) == 4


def test_lock_is_exclusive_and_dies_with_its_process(tmp_path):
    with RunLock(tmp_path):
        assert is_locked(tmp_path)
        try:
            RunLock(tmp_path).acquire()
        except RunLocked as exc:
            assert "another run" in str(exc)
        else:
            raise AssertionError("a second lock was granted")
    assert not is_locked(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "import sys,time; from engine.rundir import RunLock;"
                              f"RunLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    assert is_locked(tmp_path)
    child.kill()
    child.wait()
    assert not is_locked(tmp_path)


def test_last_checkpoint_skips_incomplete(tmp_path):
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-10").mkdir()  # killed while saving: no trainer_state.json
    assert last_checkpoint(tmp_path).name == "checkpoint-5"
    assert read_events(tmp_path) == []


def test_runs_outside_the_runs_folder_are_listed_by_link(tmp_path, monkeypatch):
    from engine.rundir import register_run

    monkeypatch.setenv("LMF_TUI_RUNS", str(tmp_path / "runs"))
    elsewhere = tmp_path / "saves" / "demo"
    EventWriter(elsewhere).emit("start", stage="sft", model="m")
    register_run(elsewhere)
    register_run(elsewhere)  # idempotent
    runs = list_runs()
    assert len(runs) == 1 and runs[0].path.resolve() == elsewhere.resolve()


def test_one_summary_for_the_runs_list_the_monitor_and_attach(tmp_path):
    from engine.summary import RunSummary, run_status
    from lmftui.commands.attach import describe_once
    from lmftui.run_history import RunHistory

    writer = EventWriter(tmp_path)
    writer.emit("start", stage="sft", model="m", max_steps=10)
    writer.emit("step", step=4, max_steps=10, loss=1.5, epoch=0.4)
    writer.emit("error", message="boom", fix="lower the batch")
    writer.emit("start", stage="sft", model="m", max_steps=10)  # resumed: a new attempt, its steps go on
    writer.emit("step", step=6, max_steps=10, loss=1.25, epoch=0.6)
    writer.emit("error", message="out of memory", fix="lower per_device_train_batch_size")
    writer.close()
    info, history = run_info(tmp_path), RunHistory()
    for event in read_events(tmp_path):
        history.add(event)
    assert isinstance(history.summary, RunSummary) and history.summary == info.summary
    assert run_status(history.summary, False) == info.status == "failed"
    assert (info.step, info.max_steps, info.loss, info.message) == (6, 10, 1.25, "out of memory")
    text = describe_once(tmp_path)
    assert "status  failed" in text and "step    6/10  epoch 0.60" in text and "loss    1.2500" in text
    assert "error   out of memory" in text and "fix     lower per_device_train_batch_size" in text
