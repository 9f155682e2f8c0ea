"""The live training plot: loss per step and per epoch, and the validation metric per epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg
from PyQt5.QtWidgets import QVBoxLayout, QWidget

STEP_PEN = pg.mkPen((120, 160, 220), width=1)
EPOCH_COLOUR = (20, 80, 190)
METRIC_COLOUR = (220, 110, 0)


@dataclass
class TrainingHistory:
    """The numbers behind the plot, collected from the engine's progress reports.

    The engine reports the epoch's running mean loss after each step; the loss of step ``i`` is
    recovered from two consecutive means: ``i * mean_i - (i - 1) * mean_(i-1)``.
    """

    step_x: list[float] = field(default_factory=list)  # fractional epoch of each step
    step_loss: list[float] = field(default_factory=list)
    epoch_x: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    metric_x: list[float] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    metric_name: str = "metric"
    _last: tuple[int, int, float] | None = None  # epoch, step, running mean of the last report

    def add(self, p: Any) -> str | None:
        """Take one Progress record; return which series changed ("step", "epoch") or None."""
        self.metric_name = p.metric_name or self.metric_name
        if p.phase == "train" and p.loss is not None:
            mean = float(p.loss)
            if self._last is not None and self._last[:2] == (p.epoch, p.step - 1):
                loss = p.step * mean - (p.step - 1) * self._last[2]
            else:
                loss = mean
            self._last = (p.epoch, p.step, mean)
            self.step_x.append(p.epoch - 1 + p.step / max(p.steps, 1))
            self.step_loss.append(loss)
            return "step"
        if p.phase == "epoch":
            if p.loss is not None:
                self.epoch_x.append(float(p.epoch))
                self.epoch_loss.append(float(p.loss))
            if p.metric is not None and p.metric == p.metric:  # NaN when there was nothing to validate
                self.metric_x.append(float(p.epoch))
                self.metric.append(float(p.metric))
            return "epoch"
        return None

    def continue_from(self, records: list[dict[str, Any]], metric_name: str, keep_steps: bool) -> None:
        """Show a resumed run's finished epochs (the checkpoint's records); keep their plotted steps if asked."""
        done = len(records)
        steps = [(x, v) for x, v in zip(self.step_x, self.step_loss) if x <= done + 1e-9] if keep_steps else []
        self.step_x, self.step_loss = [x for x, _ in steps], [v for _, v in steps]
        self.metric_name = metric_name
        self.epoch_x, self.epoch_loss, self.metric_x, self.metric = [], [], [], []
        for k, record in enumerate(records, 1):
            loss, metric = record.get("loss"), record.get(metric_name)
            if isinstance(loss, (int, float)):
                self.epoch_x.append(float(k))
                self.epoch_loss.append(float(loss))
            if isinstance(metric, (int, float)) and metric == metric:
                self.metric_x.append(float(k))
                self.metric.append(float(metric))
        self._last = None


class TrainingPlot(QWidget):
    """Two plots sharing the epoch axis: loss on top, the validation metric below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = TrainingHistory()
        self.loss_plot = pg.PlotWidget(background="w")
        self.metric_plot = pg.PlotWidget(background="w")
        for plot in (self.loss_plot, self.metric_plot):
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMouseEnabled(x=False, y=False)
            plot.setMenuEnabled(False)
            plot.getPlotItem().hideButtons()
            for axis in ("left", "bottom"):
                plot.getAxis(axis).enableAutoSIPrefix(False)  # "epoch", never "epoch (x0.001)"
                plot.getAxis(axis).setPen(pg.mkPen((90, 90, 90)))
                plot.getAxis(axis).setTextPen(pg.mkPen((50, 50, 50)))
        self.loss_plot.setTitle("Training loss", color="#333333")
        self.loss_plot.setLabel("bottom", "epoch", color="#333333")
        legend = self.loss_plot.addLegend(offset=(-10, 10), labelTextColor="#333333", brush=(255, 255, 255, 200))
        self.step_curve = self.loss_plot.plot([], [], pen=STEP_PEN, name="each step")
        self.epoch_curve = self.loss_plot.plot([], [], pen=pg.mkPen(EPOCH_COLOUR, width=2), symbol="o",
                                               symbolSize=7, symbolBrush=EPOCH_COLOUR, symbolPen=None,
                                               name="epoch mean")
        self.metric_curve = self.metric_plot.plot([], [], pen=pg.mkPen(METRIC_COLOUR, width=2), symbol="o",
                                                  symbolSize=7, symbolBrush=METRIC_COLOUR, symbolPen=None)
        self.metric_plot.setLabel("bottom", "epoch", color="#333333")
        self.metric_plot.setXLink(self.loss_plot)
        self._legend = legend
        self._set_metric_title()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot, 3)
        layout.addWidget(self.metric_plot, 2)

    def _set_metric_title(self) -> None:
        self.metric_plot.setTitle(f"Validation {self.history.metric_name}", color="#333333")

    def clear(self, metric_name: str | None = None) -> None:
        """Empty the plot for a new run; the axes follow the data as it comes."""
        self.history = TrainingHistory(metric_name=metric_name or "metric")
        for curve in (self.step_curve, self.epoch_curve, self.metric_curve):
            curve.setData([], [])
        self._set_metric_title()
        for plot in (self.loss_plot, self.metric_plot):
            plot.enableAutoRange()

    def continue_run(self, records: list[dict[str, Any]], metric_name: str, keep_steps: bool) -> None:
        """Show what a resumed run did before it stopped; new reports then carry on from there."""
        self.history.continue_from(records, metric_name, keep_steps)
        self.metric_plot.enableAutoRange(x=False, y=True)  # the loss plot leads the linked epoch axis
        self.loss_plot.enableAutoRange()
        h = self.history
        self.step_curve.setData(h.step_x, h.step_loss)
        self.epoch_curve.setData(h.epoch_x, h.epoch_loss)
        self.metric_curve.setData(h.metric_x, h.metric)
        self._set_metric_title()

    def add(self, progress: Any) -> None:
        """Plot one progress report of the engine."""
        changed = self.history.add(progress)
        h = self.history
        if changed == "step":
            self.step_curve.setData(h.step_x, h.step_loss)
        elif changed == "epoch":
            self.epoch_curve.setData(h.epoch_x, h.epoch_loss)
            self.metric_curve.setData(h.metric_x, h.metric)
            self._set_metric_title()

    @property
    def points(self) -> int:
        """How many values are plotted (steps, epoch losses and metrics together)."""
        h = self.history
        return len(h.step_loss) + len(h.epoch_loss) + len(h.metric)
