"""Line charts as pictures (the training curves of a run folder), drawn with Pillow: numpy in, ``(H, W, 3)``
uint8 out. Each panel has a title, labelled axes with round-number ticks (powers of ten on a log axis) and a
legend; markers mark single values (a final evaluation)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fields.io.panels import font

COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))


@dataclass
class Panel:
    title: str
    ylabel: str
    series: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)  # (label, steps, values)
    markers: list[tuple[str, float, float]] = field(default_factory=list)  # (label, step, value)
    log_y: bool = False
    xlabel: str = "step"
    xmax: float | None = None  # the step axis ends here (panels side by side share it); default the last value


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round numbers (1, 2 or 5 times a power of ten) spanning ``[lo, hi]``."""
    if not hi > lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int(math.ceil((hi - first) / step)) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.1e}"


def draw_chart(panels: Sequence[Panel], width: int = 640, height: int = 400) -> np.ndarray:
    """The panels side by side, each ``width x height`` pixels."""
    from PIL import Image

    canvas = Image.new("RGB", (width * len(panels), height), "white")
    for k, panel in enumerate(panels):
        _draw_panel(canvas, panel, k * width, width, height)
    return np.asarray(canvas)


def _draw_panel(canvas, panel: Panel, x0: int, width: int, height: int) -> None:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(canvas)
    size = 15
    left, right, top, bottom = x0 + 78, x0 + width - 18, 2 * size + 8, height - 2 * size - 14
    draw.text((x0 + width // 2, size // 2 + 2), panel.title, fill="black", font=font(size + 2), anchor="mt")
    ys = [v for _, _, values in panel.series for v in values] + [v for _, _, v in panel.markers]
    xs = [s for _, steps, _ in panel.series for s in steps] + [s for _, s, _ in panel.markers]
    ys = [v for v in ys if math.isfinite(v) and (v > 0 or not panel.log_y)]
    if not ys:
        draw.text((x0 + width // 2, height // 2), "no values logged", fill="grey", font=font(size), anchor="mm")
        return
    xlo, xhi = 0.0, max(panel.xmax or max(xs), 1.0)
    transform = (lambda v: math.log10(v)) if panel.log_y else (lambda v: v)
    tlo, thi = transform(min(ys)), transform(max(ys))
    if panel.log_y:
        tlo, thi = math.floor(tlo), max(math.ceil(thi), math.floor(tlo) + 1)
        yticks = [float(e) for e in range(int(tlo), int(thi) + 1)]
    else:
        pad = (thi - tlo) * 0.05 or abs(thi) * 0.05 or 1.0
        yticks = nice_ticks(tlo - pad, thi + pad)
        tlo, thi = yticks[0], yticks[-1]
    xticks = [t for t in nice_ticks(xlo, xhi) if t <= xhi * 1.0001]

    def px(step: float) -> float:
        return left + (step - xlo) / (xhi - xlo) * (right - left)

    def py(value: float) -> float:
        return bottom - (transform(value) - tlo) / (thi - tlo) * (bottom - top)

    for t in yticks:
        y = bottom - (t - tlo) / (thi - tlo) * (bottom - top)
        draw.line((left, y, right, y), fill=(230, 230, 230))
        draw.text((left - 6, y), _label(10**t if panel.log_y else t), fill="black", font=font(size - 2), anchor="rm")
    for t in xticks:
        x = px(t)
        draw.line((x, top, x, bottom), fill=(230, 230, 230))
        draw.text((x, bottom + 5), _label(t), fill="black", font=font(size - 2), anchor="mt")
    draw.rectangle((left, top, right, bottom), outline="black")
    draw.text((left + (right - left) // 2, height - 4), panel.xlabel, fill="black", font=font(size), anchor="mb")
    _ylabel(canvas, panel.ylabel, x0 + 4, (top + bottom) // 2, size)
    legend = []
    for i, (label, steps, values) in enumerate(panel.series):
        colour = COLOURS[i % len(COLOURS)]
        points = [(px(s), py(v)) for s, v in zip(steps, values) if math.isfinite(v) and (v > 0 or not panel.log_y)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        elif points:
            draw.ellipse((points[0][0] - 3, points[0][1] - 3, points[0][0] + 3, points[0][1] + 3), fill=colour)
        legend.append((label, colour, "line"))
    for label, step, value in panel.markers:
        if math.isfinite(value) and (value > 0 or not panel.log_y):
            x, y = px(step), py(value)
            draw.regular_polygon((x, y, 6), 4, rotation=45, fill=(0, 0, 0))
            legend.append((f"{label}: {value:.4g}", (0, 0, 0), "marker"))
    for i, (label, colour, kind) in enumerate(legend):
        y = top + 8 + i * (size + 4)
        if kind == "line":
            draw.line((right - 150, y, right - 130, y), fill=colour, width=2)
        else:
            draw.regular_polygon((right - 140, y, 5), 4, rotation=45, fill=colour)
        draw.text((right - 124, y), label, fill="black", font=font(size - 2), anchor="lm")


def _ylabel(canvas, text: str, x: int, y: int, size: int) -> None:
    """``text`` written upwards on ``canvas``, centred on ``y``."""
    from PIL import Image, ImageDraw

    width = int(ImageDraw.Draw(canvas).textlength(text, font=font(size))) + 4
    label = Image.new("RGB", (width, size + 6), "white")
    ImageDraw.Draw(label).text((2, 1), text, fill="black", font=font(size))
    rotated = label.rotate(90, expand=True)
    canvas.paste(rotated, (x, y - rotated.height // 2))
