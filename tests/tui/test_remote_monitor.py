"""A run on an SSH host (a real sshd on 127.0.0.1) in the monitor and the runs list, exactly like a local one:
history by byte offset over SSH, a dropped link that loses no event, and a graceful stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmftui.hosts.records import RemoteRun, write_record
from lmftui.hosts.remote import SshHost
from lmftui.hosts.store import HostSpec, save_hosts
from lmftui.screens.monitor import MonitorScreen
from lmftui.screens.runs import RunsScreen

from .conftest import make_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]


@pytest.fixture
def remote_host(ssh_env, home: Path) -> HostSpec:
    spec = HostSpec(name="loop", destination="loop-a", python=str(ssh_env.remote_python("tui", home / "remote")))
    save_hosts({"loop": spec})
    return spec


async def test_remote_run_in_the_monitor_survives_a_dropped_link_and_stops(home, remote_host, fake_runs) -> None:
    remote_dir = home / "remote" / "runs" / "r1"
    run = fake_runs(remote_dir, steps=100000, interval=0.05)
    folder = write_record(RemoteRun(hosts=["loop"], path=str(remote_dir)))
    assert folder.name == "r1@loop"
    app = make_app(home, attach=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.step >= 10,
                       timeout=60)
        screen = app.screen
        title = screen.query_one("#run-title")
        await wait_for(pilot, lambda: "on loop" in str(title.render()) and "running" in str(title.render()))
        log = screen.query_one("#run-log")
        await wait_for(pilot, lambda: any("journal writer started" in line for line in log.lines))

        SshHost(remote_host).disconnect()  # the link drops; the next poll opens a new one
        seen = screen.history.step
        await wait_for(pilot, lambda: screen.history.step >= seen + 10, timeout=60)
        assert screen.history.series["loss"].count == screen.history.step  # every step, none twice

        await pilot.press("s")
        await pilot.press("y")
        await wait_for(pilot, lambda: "stopped" in str(title.render()), timeout=60)
        assert run.wait(timeout=30) == 0
        assert screen.history.done["status"] == "stopped"


async def test_runs_screen_lists_a_remote_run_with_its_status(home, remote_host) -> None:
    from .conftest import write_journal

    remote_dir = write_journal(home / "remote" / "runs" / "r2", steps=5)
    write_record(RemoteRun(hosts=["loop"], path=str(remote_dir)))
    app = make_app(home)
    async with app.run_test(size=(100, 30)) as pilot:
        app.switch_mode("runs")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.all_runs, timeout=60)
        run = next(r for r in app.screen.all_runs if r.name == "r2@loop")
        assert run.status == "done" and run.step == 5


async def test_host_picker_shows_each_hosts_hardware_and_sets_the_target(home, remote_host) -> None:
    from lmftui.widgets.host_picker import HostPicker

    app = make_app(home)
    async with app.run_test(size=(120, 30)) as pilot:
        picker = app.screen.query_one(HostPicker)
        assert picker.host_names == ["local", "loop"]
        await wait_for(pilot, lambda: picker.host_facts["loop"] is not None, timeout=60)
        assert picker.host_facts["loop"].reachable and picker.host_facts["loop"].gpus == []
        assert "NVIDIA RTX 4090" in str(picker.get_option_at_index(0).prompt)
        assert "CPU" in str(picker.get_option_at_index(1).prompt)
        await pilot.press("t")
        assert picker.has_focus
        await pilot.press("down", "enter")
        assert app.target_host == "loop"
        assert "▶" in str(picker.get_option_at_index(1).prompt)
        assert app.target_hardware.backend == "cpu" and not app.target_hardware.gpus  # sizing for the target
        app.target_host = "local"
        assert app.target_hardware.gpus[0].name == "NVIDIA RTX 4090"


async def test_home_without_hosts_has_no_picker(home) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query("#hosts")
        await pilot.press("t")
        assert app.target_host == "local"


async def test_finished_remote_run_warns_that_the_host_is_idle(home, remote_host) -> None:
    from .conftest import write_journal

    remote_dir = write_journal(home / "remote" / "runs" / "r3", steps=4)
    folder = write_record(RemoteRun(hosts=["loop"], path=str(remote_dir)))
    app = make_app(home, attach=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.done, timeout=60)
        title = app.screen.query_one("#run-title")
        await wait_for(pilot, lambda: "loop is idle since" in str(title.render()))


async def test_app_starts_the_draft_on_the_target_host_and_follows_it(home, remote_host, tiny_model_dir,
                                                                    tiny_data_dir) -> None:
    """A real tiny run: the inputs go over SSH, the run trains there, the monitor shows it to the end."""
    app = make_app(home)
    raw = dict(model_name_or_path=str(tiny_model_dir), do_train=True, dataset="tiny_identity",
               dataset_dir=str(tiny_data_dir), stage="sft", finetuning_type="lora", cutoff_len=64,
               per_device_train_batch_size=2, max_steps=6, logging_steps=1, save_steps=100, report_to="none")
    async with app.run_test(size=(100, 30)) as pilot:
        app.target_host = "loop"
        assert app.start_run(raw) is None  # it goes on in a worker
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.run_dir is not None,
                       timeout=120)
        screen = app.screen
        assert screen.run_dir.name.endswith("@loop") and screen.host_label == " on loop"
        await wait_for(pilot, lambda: screen.history.done is not None, timeout=300)
        assert screen.history.step == 6 and screen.history.done["status"] == "done"
        assert (home / "remote" / "runs" / screen.run_dir.name.removesuffix("@loop") / "adapter_model.safetensors").exists()


async def test_multi_node_run_shows_every_nodes_console(home, remote_host, ssh_env) -> None:
    from .conftest import write_journal

    second = HostSpec(name="loop2", destination="loop-b", python=remote_host.python)
    save_hosts({"loop": remote_host, "loop2": second})
    master = write_journal(home / "remote" / "runs" / "m1", steps=3)
    node1 = home / "remote2" / "runs" / "m1"
    node1.mkdir(parents=True)
    (node1 / "console.node1.log").write_text("rank 1 joined the rendezvous\n")
    folder = write_record(RemoteRun(hosts=["loop", "loop2"], path=str(master),
                                    node_paths={"loop": str(master), "loop2": str(node1)}))
    app = make_app(home, attach=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.done, timeout=60)
        log = app.screen.query_one("#run-log")
        await wait_for(pilot, lambda: any("[loop2] rank 1 joined the rendezvous" in line for line in log.lines))
        assert "on loop+loop2" in str(app.screen.query_one("#run-title").render())
