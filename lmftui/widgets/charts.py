"""Line charts of run metrics (textual-plotext), redrawn on demand rather than per event."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class MetricChart(PlotextPlot):
    """One chart of one or more named curves over steps."""

    def __init__(self, title: str, *, log_y: bool = False, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title = title
        self.log_y = log_y
        self.curves: dict[str, tuple[list[float], list[float]]] = {}

    def show(self, curves: dict[str, tuple[list[float], list[float]]], log_y: bool | None = None) -> None:
        """Replace the curves and redraw once."""
        self.curves = curves
        if log_y is not None:
            self.log_y = log_y
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title + (" (log)" if self.log_y else ""))
        plt.yscale("log" if self.log_y else "linear")
        drawn = False
        for label, (xs, ys) in self.curves.items():
            if self.log_y:
                pairs = [(x, y) for x, y in zip(xs, ys) if y > 0]
                xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
            if xs:
                plt.plot(xs, ys, label=label if len(self.curves) > 1 else None, marker="braille")
                drawn = True
        if not drawn:
            plt.text("waiting for data", 0, 0)
            plt.xlim(-1, 1)
            plt.ylim(-1, 1)
        self.refresh()
