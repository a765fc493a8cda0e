"""Run monitor: progress, live charts, the log tail, errors, and a graceful stop."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Log, ProgressBar, Static
from textual.worker import get_current_worker

from engine.distributed.strategy import STRATEGIES
from engine.hardware.nvml import nvml_memory
from engine.quiet import is_library_line
from engine.summary import run_status

from ..hosts.base import JournalReader
from ..hosts.records import node_consoles, read_record, run_target, stop_everywhere
from ..hosts.store import HostError
from ..run_history import RunHistory, format_duration, smooth
from ..widgets.charts import MetricChart
from ..widgets.runs_table import STATUS_STYLE
from .base import AreaScreen
from .modals import ConfirmModal

SIDE_CHARTS = (("lr", "learning rate"), ("grad_norm", "grad norm"), ("tokens_per_s", "tokens/s"),
               ("mem_gb", "memory GB"))
SMOOTHING_STEPS = (0.0, 0.6, 0.9, 0.97)
EVENTS_PER_BATCH = 5000
POLL_S = 0.25
REMOTE_POLL_S = 1.0  # one command over the host's shared SSH connection per poll
RETRY_S = (1, 2, 4, 8, 15, 30)  # back-off while a host's link is down
QUIET_S = 300  # a running run without a new step for this long is called out (rented GPUs bill while idle)
GPU_POLL_S = 2.0  # memory of each GPU (NVML) while a local run goes on
JOURNAL_LINES = ("warning", "checkpoint", "eval", "predict", "error", "done")  # shown in the log beside console.log


class JournalGrew(Message):
    """New events or log lines wait in the monitor's inbox (coalesced: one pending at a time)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JournalGrew)


class LinkChanged(Message):
    """The link to a remote run's host went down (with the reason and the next retry) or came back."""

    def __init__(self, run_dir: Path, error: str | None):
        super().__init__()
        self.run_dir, self.error = run_dir, error


class GpuMemoryRead(Message):
    """The memory of each GPU NVML sees on this machine, as one line ("" when it sees none)."""

    def __init__(self, run_dir: Path, text: str):
        super().__init__()
        self.run_dir = run_dir
        self.text = text


def gpu_memory_text() -> str:
    """"GPU 0 31.2/80.0 GB · GPU 1 30.9/80.0 GB" for every GPU NVML sees; "" without NVML."""
    return " · ".join(f"GPU {index} {used:.1f}/{total:.1f} GB" for index, total, used, _, _ in nvml_memory() or []
                      if used is not None and total is not None)


def ranks_text(plan: dict, gpu_memory: str) -> str:
    """The ranks of a multi-rank run: world size, strategy and (where NVML sees them) each GPU's memory."""
    world = int(plan.get("world_size") or 1)
    if world <= 1:
        return ""
    strategy = STRATEGIES.get(plan.get("strategy", "ddp"), STRATEGIES["ddp"]).label
    nodes = int(plan.get("nnodes") or 1)
    where = f" on {nodes} nodes" if nodes > 1 else ""
    return f"{world} ranks{where} · {strategy}" + (f" · {gpu_memory}" if gpu_memory else "")


class MonitorScreen(AreaScreen):
    """Shows the app's watched run live; the run keeps going when the app quits."""

    AREA = "monitor"
    BINDINGS = [
        Binding("s", "stop", "Stop", id="run.stop", tooltip="Ask the run to save a checkpoint and stop."),
        Binding("c", "next_chart", "Chart", id="run.next-chart",
                tooltip="Cycle the side chart: learning rate, grad norm, throughput, memory, the stage's metrics."),
        Binding("l", "log_scale", "Log y", id="run.toggle-log-scale", tooltip="Loss chart on a log scale or not."),
        Binding("m", "smoothing", "Smooth", id="run.cycle-smoothing", tooltip="Cycle the loss smoothing."),
        Binding("a", "attach", "Attach", id="run.attach", tooltip="Pick another run on the runs screen."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.run_dir: Path | None = None
        self.history = RunHistory()
        self.running = False
        self.side = 0
        self._inbox: deque[tuple[Path, list, list[str], bool]] = deque()
        self._dirty = False
        self.host_label = ""
        self.link_error: str | None = None
        self.gpu_memory = ""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="run-head"):
            yield Static("", id="run-title")
            with Horizontal(id="run-progress-row"):
                yield ProgressBar(total=None, show_eta=False, id="run-progress")
                yield Static("", id="run-progress-text")
        yield Static("", id="run-error", classes="-hidden")
        with Horizontal(id="charts"):
            yield MetricChart("loss", id="loss-chart", log_y=self.app.settings.log_scale)
            yield MetricChart(SIDE_CHARTS[0][1], id="side-chart")
        yield Log(max_lines=500, id="run-log", auto_scroll=True)

    def on_mount(self) -> None:
        self.query_one("#run-log").border_title = "console.log"
        self.set_interval(self.app.settings.chart_refresh_s, self._redraw)
        self.set_interval(QUIET_S / 10, self._recheck_quiet)
        self._follow(self.app.watched_run)

    def on_screen_resume(self) -> None:
        if self.app.watched_run != self.run_dir:
            self._follow(self.app.watched_run)

    # --- reading the journal ------------------------------------------------------------------
    def _follow(self, run_dir: Path | None) -> None:
        """Start showing `run_dir` from its first event."""
        self.run_dir = run_dir
        self.history = RunHistory()
        self.running = False
        self.link_error = None
        self.gpu_memory = ""
        self._inbox.clear()
        self.query_one(Log).clear()
        self._dirty = True
        record = read_record(run_dir) if run_dir is not None else None
        self.host_label = f" on {'+'.join(record.hosts)}" if record else ""
        if run_dir is None:
            self.query_one("#run-title", Static).update(
                "No run selected — start one from the config editor (F3, ctrl+r) or pick one on the runs screen (F6).")
            return
        self.work(lambda: self._tail(run_dir), "tail", group="monitor.tail")

    def _tail(self, run_dir: Path) -> None:
        """Worker: poll the journal and console.log by byte offset through the run's host (this machine or
        SSH) and post what is new; a dropped link is retried with back-off and loses no event."""
        worker = get_current_worker()
        try:
            host, path = run_target(run_dir)
        except HostError as exc:
            self.post_message(LinkChanged(run_dir, str(exc)))
            return
        reader = JournalReader(host, path)
        nodes = [(name, JournalReader(node, there, console)) for name, node, there, console in node_consoles(run_dir)]
        pause = POLL_S if host.name == "local" else REMOTE_POLL_S
        last_running, failures = None, 0
        gpu_due, gpu_text = 0.0, ""
        while not worker.is_cancelled:
            if host.name == "local" and last_running and time.monotonic() >= gpu_due:
                gpu_due = time.monotonic() + GPU_POLL_S
                if (now := gpu_memory_text()) != gpu_text:
                    gpu_text = now
                    self.post_message(GpuMemoryRead(run_dir, now))
            try:
                new_events, lines, running = reader.read()
                for name, node in nodes:  # the other nodes' consoles, each line marked with its host
                    lines += [f"[{name}] {line}" for line in node.read()[1]]
            except HostError as exc:
                wait = RETRY_S[min(failures, len(RETRY_S) - 1)]
                failures += 1
                self.post_message(LinkChanged(run_dir, f"{exc} · retrying in {wait} s"))
                self._sleep(worker, wait)
                continue
            if failures:
                failures = 0
                self.post_message(LinkChanged(run_dir, None))
            if new_events or lines or running != last_running:
                self._inbox.append((run_dir, new_events, lines, running))
                self.post_message(JournalGrew())
                last_running = running
            if not new_events:
                self._sleep(worker, pause)

    @staticmethod
    def _sleep(worker, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not worker.is_cancelled and time.monotonic() < deadline:
            time.sleep(min(POLL_S, seconds))

    def _recheck_quiet(self) -> None:
        if self.running:
            self._dirty = True  # a quiet run gets no new event; its "no new step for" line still grows

    def on_link_changed(self, message: LinkChanged) -> None:
        if message.run_dir == self.run_dir:
            self.link_error = message.error
            self._dirty = True

    def on_gpu_memory_read(self, message: GpuMemoryRead) -> None:
        if message.run_dir == self.run_dir:
            self.gpu_memory = message.text
            self._dirty = True

    def on_journal_grew(self, message: JournalGrew) -> None:
        """Fold the inbox into the history, a bounded batch at a time; the timer redraws."""
        budget = EVENTS_PER_BATCH
        log = self.query_one(Log)
        while self._inbox and budget > 0:
            run_dir, events, lines, running = self._inbox[0]
            if run_dir != self.run_dir:
                self._inbox.popleft()
                continue
            take, rest = events[:budget], events[budget:]
            for event in take:
                self.history.add(event)
                if event.get("type") in JOURNAL_LINES:
                    log.write_line(f"[{event['type']}] {self.history.messages[-1][1]}")
            budget -= len(take)
            if rest:
                self._inbox[0] = (run_dir, rest, lines, running)
                break
            self._inbox.popleft()
            if lines := [line for line in lines if not is_library_line(line)]:  # library noise stays in the file
                log.write_lines(lines)
            self.running = running
            self._dirty = True
        if self._inbox:
            self.post_message(JournalGrew())

    # --- drawing ------------------------------------------------------------------------------
    def _redraw(self) -> None:
        if not self._dirty or self.run_dir is None:
            return
        self._dirty = False
        h = self.history
        status = run_status(h.summary, self.running)
        model = h.start.get("model", "")
        stage = h.start.get("stage", "")
        link = f"\n[bold red]link down:[/] {self.link_error}" if self.link_error else ""
        last = (h.last_step or h.start).get("time")
        if status == "running" and last and time.time() - last > QUIET_S and not link:
            link = (f"\n[yellow]no new step for {format_duration(time.time() - last)}[/] — "
                    "the run may be stuck (see the log) or between long steps")
        if self.host_label and status in ("done", "failed", "stopped") and not link:
            since = time.strftime("%H:%M", time.localtime((h.done or h.error or {}).get("time") or time.time()))
            link = (f"\n[yellow]{self.host_label.strip()[3:]} is idle since {since}[/] — "
                    "start the next run there or stop the machine (rented GPUs bill by the hour)")
        ranks = ranks_text(h.start.get("plan") or {}, self.gpu_memory if status == "running" else "")
        self.query_one("#run-title", Static).update(
            f"[b]{self.run_dir.name}[/b]{self.host_label}  [{STATUS_STYLE.get(status, '')}]{status}[/]  "
            f"{stage} {model}".rstrip() + (f"\n{ranks}" if ranks else "") + link)
        bar = self.query_one(ProgressBar)
        if h.downloading:  # bytes of the hub download, until training starts
            bar.update(total=h.download.get("total") or None, progress=h.download.get("bytes", 0))
        else:
            bar.update(total=h.max_steps or None, progress=h.step)
        self.query_one("#run-progress-text", Static).update(h.progress_text())
        self._show_error()
        settings = self.app.settings
        xs, ys = h.series["loss"].points()
        curves = {"loss": (xs, smooth(ys, settings.smoothing))}
        if h.eval_loss.count:
            curves["eval"] = h.eval_loss.points()
        self.query_one("#loss-chart", MetricChart).show(curves, log_y=settings.log_scale)
        metric, title = self._side_charts()[self.side % len(self._side_charts())]
        side = self.query_one("#side-chart", MetricChart)
        side.title = title
        side.show({title: h.series[metric].points()})

    def _show_error(self) -> None:
        box = self.query_one("#run-error", Static)
        error = self.history.error
        if error is None or self.history.done is not None:
            box.set_class(True, "-hidden")
            return
        text = f"[b]Error:[/b] {error.get('message', '')}"
        if error.get("fix"):
            text += f"\n[b]Fix:[/b] {error['fix']}"
        if error.get("traceback_file"):
            text += f"\n[dim]traceback: {error['traceback_file']}[/]"
        box.update(text)
        box.set_class(False, "-hidden")

    # --- actions ------------------------------------------------------------------------------
    def action_stop(self) -> None:
        if self.run_dir is None or not self.running:
            self.notify("no running run to stop", severity="warning")
            return
        run_dir = self.run_dir

        def answered(yes: bool | None) -> None:
            if yes:
                self.work(lambda: stop_everywhere(run_dir), "stop")
                self.notify("stopping: the run saves a checkpoint, then ends", title="Run")

        self.app.push_screen(ConfirmModal(f"Stop {run_dir.name}? It saves a checkpoint first."), answered)

    def _side_charts(self) -> list[tuple[str, str]]:
        """The standard side charts, then the stage's own metrics (DPO rewards, PPO reward and KL…)."""
        return [*SIDE_CHARTS, *((name, name) for name in self.history.stage_metrics())]

    def action_next_chart(self) -> None:
        self.side = (self.side + 1) % len(self._side_charts())
        self._dirty = True
        self._redraw()

    def action_log_scale(self) -> None:
        self.app.save_settings(log_scale=not self.app.settings.log_scale)
        self._dirty = True
        self._redraw()

    def action_smoothing(self) -> None:
        now = self.app.settings.smoothing
        nxt = SMOOTHING_STEPS[(SMOOTHING_STEPS.index(now) + 1) % len(SMOOTHING_STEPS)] \
            if now in SMOOTHING_STEPS else SMOOTHING_STEPS[0]
        self.app.save_settings(smoothing=nxt)
        self.notify(f"loss smoothing {nxt}")
        self._dirty = True
        self._redraw()

    def action_attach(self) -> None:
        self.app.switch_mode("runs")
