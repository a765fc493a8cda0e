"""Compare the loss curves of several runs on one chart."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.events import iter_events

from ..widgets.charts import MetricChart
from ..run_history import Series


class CurvesRead(Message):
    def __init__(self, curves: dict[str, tuple[list[float], list[float]]]):
        super().__init__()
        self.curves = curves


def read_loss_curves(paths: list[Path]) -> dict[str, tuple[list[float], list[float]]]:
    """Each run's downsampled training loss by step."""
    curves = {}
    for path in paths:
        series = Series(max_points=500)
        for event in iter_events(path):
            if event["type"] == "step":
                series.add(event.get("step", 0), event.get("loss"))
        curves[path.name] = series.points()
    return curves


class CompareScreen(ModalScreen[None]):
    """Loss of the chosen runs over steps; escape closes it."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="compare.close", tooltip="Back to the runs list."),
        Binding("l", "log_scale", "Log y", id="compare.toggle-log-scale", tooltip="Log scale on or off."),
    ]

    def __init__(self, paths: list[Path]):
        super().__init__(id="compare")
        self.paths = paths

    def compose(self) -> ComposeResult:
        yield Static(f"Loss of {len(self.paths)} runs", id="compare-title")
        yield MetricChart("loss", id="compare-chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        paths = self.paths
        self.app.run_worker(lambda: self.post_message(CurvesRead(read_loss_curves(paths))), name="compare",
                            thread=True, exit_on_error=False)

    def on_curves_read(self, message: CurvesRead) -> None:
        self.query_one(MetricChart).show(message.curves)

    def action_log_scale(self) -> None:
        chart = self.query_one(MetricChart)
        chart.show(chart.curves, log_y=not chart.log_y)
