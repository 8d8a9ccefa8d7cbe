"""Small, dependency-free SVG charts for the audit report: stacked monthly bars, monthly lines,
horizontal bars. Every label is escaped; the output is a self-contained ``<svg>`` element."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

# Colour-blind-safe palette (Okabe-Ito), then greys.
PALETTE: Final = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
    "#666666",
)
FONT: Final = "font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"


def nice_ticks(value: float, *, target: int = 6) -> list[float]:
    """Axis ticks from 0 with a round step (1, 2 or 5 times a power of ten) covering ``value``:
    ``nice_ticks(2400)`` -> 0, 500, ..., 2500; never steps such as 625."""
    if value <= 0:
        return [0.0, 1.0]
    raw = value / max(target - 1, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    count = math.ceil(value / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _fmt(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:.2g}"


def _month_label(month: str) -> str:
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    try:
        return names[int(month[5:7]) - 1]
    except (ValueError, IndexError):
        return month


def _legend(
    labels: Sequence[str], colors: Sequence[str], x: float, y: float, width: float
) -> tuple[str, float]:
    parts: list[str] = []
    cx, cy = x, y
    for label, color in zip(labels, colors):
        w = 18 + 7.2 * len(label) + 16
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 18
        parts.append(
            f'<rect x="{cx:.1f}" y="{cy - 10:.1f}" width="11" height="11" fill="{color}"/>'
            f'<text x="{cx + 16:.1f}" y="{cy:.1f}" font-size="12">{escape(label)}</text>'
        )
        cx += w
    return "".join(parts), cy + 8


def _head(title: str, width: int, height: int) -> list[str]:
    """The svg element and the title every chart starts with."""
    return [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" style="{FONT}">'
        ),
        f'<text x="8" y="20" font-size="15" font-weight="600">{escape(title)}</text>',
    ]


@dataclass(frozen=True, slots=True)
class _Plot:
    """The layout every vertical chart shares: one colour and legend entry per series, and the plot
    area below the legend."""

    width: int
    height: int
    columns: int  # the categories along the x axis, one slot each
    labels: list[str]
    colors: list[str]
    legend: str
    top: float
    left: int = 56
    right: int = 12
    bottom: int = 28

    @classmethod
    def of(cls, labels: Sequence[str], columns: int, width: int, height: int) -> _Plot:
        colors = [PALETTE[i % len(PALETTE)] for i in range(len(labels))]
        legend, legend_bottom = _legend(labels, colors, 56, 40, width - 70)
        return cls(width, height, columns, list(labels), colors, legend, legend_bottom + 10)

    @property
    def plot_h(self) -> float:
        return self.height - self.top - self.bottom

    @property
    def slot(self) -> float:
        """The width of one category's slot."""
        return (self.width - self.left - self.right) / max(self.columns, 1)

    def center(self, column: int) -> float:
        """The x of the middle of a category's slot."""
        return self.left + self.slot * column + self.slot / 2

    def frame(self, title: str, highest: float, *, percent: bool, y_label: str) -> tuple[list[str], float]:
        """The svg element, the title, the legend, the y grid with round tick labels up to ``highest``
        and the y-axis label; and the value at the top of the plot (the last tick)."""
        width, top, plot_h, left, right = self.width, self.top, self.plot_h, self.left, self.right
        ticks = nice_ticks(highest)
        vmax = ticks[-1]
        out = [*_head(title, width, self.height), self.legend]
        for v in ticks:
            y = top + plot_h - plot_h * v / vmax
            out.append(
                f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
                f"{_fmt(v)}{'%' if percent else ''}</text>"
            )
        out.append(
            f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="11" fill="#555" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" text-anchor="middle">{escape(y_label)}</text>'
        )
        return out, vmax


def stacked_bars(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    width: int = 720,
    height: int = 260,
    percent: bool = False,
    y_label: str = "queries",
) -> str:
    """Bars per category (e.g. month), stacked by series (e.g. data source)."""
    plot = _Plot.of(list(series), len(categories), width, height)
    totals = [sum(series[s][i] for s in plot.labels) for i in range(len(categories))]
    out, vmax = plot.frame(
        title, 100.0 if percent else max(totals, default=0), percent=percent, y_label=y_label
    )
    slot, plot_h = plot.slot, plot.plot_h
    bar_w = max(2.0, slot * 0.7)
    for i, cat in enumerate(categories):
        x = plot.left + slot * i + (slot - bar_w) / 2
        y = plot.top + plot_h
        total = totals[i]
        for s, color in zip(plot.labels, plot.colors):
            value = series[s][i]
            if value <= 0:
                continue
            shown = (100.0 * value / total) if percent and total else value
            h = plot_h * shown / vmax
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{escape(cat)} · {escape(s)}: {value:,.0f}</title></rect>"
            )
        out.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" font-size="11" text-anchor="middle" '
            f'fill="#333">{escape(_month_label(cat))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def lines(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    width: int = 720,
    height: int = 260,
    percent: bool = True,
    y_label: str = "share",
) -> str:
    """One line per series over the categories (e.g. the immigration-purpose share per component by month)."""
    plot = _Plot.of(list(series), len(categories), width, height)
    values = [v for s in plot.labels for v in series[s] if v is not None]
    highest = max(values, default=0) * (100 if percent else 1)
    out, vmax = plot.frame(title, highest, percent=percent, y_label=y_label)
    for i, cat in enumerate(categories):
        out.append(
            f'<text x="{plot.center(i):.1f}" y="{height - 10}" font-size="11" '
            f'text-anchor="middle" fill="#333">{escape(_month_label(cat))}</text>'
        )
    top, plot_h = plot.top, plot.plot_h
    for s, color in zip(plot.labels, plot.colors):
        points: list[tuple[float, float, float, str]] = []
        for i, value in enumerate(series[s]):
            if value is None:
                continue
            v = float(value)
            shown = v * (100 if percent else 1)
            points.append((plot.center(i), top + plot_h - plot_h * shown / vmax, v, categories[i]))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v, _c in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v, cat in points:
            tip = f"{v * 100:.1f}%" if percent else f"{v:,.0f}"
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                f"<title>{escape(cat)} · {escape(s)}: {tip}</title></circle>"
            )
    out.append("</svg>")
    return "".join(out)


def hbars(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    width: int = 720,
    color: str = PALETTE[0],
    label_width: int = 220,
) -> str:
    """Horizontal bars, largest first as given (e.g. fired alerts by rule)."""
    row = 22
    top = 34
    height = top + row * max(len(labels), 1) + 10
    plot_w = width - label_width - 70
    vmax = max(values, default=0) or 1
    out = _head(title, width, height)
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * row
        w = plot_w * value / vmax
        out.append(
            f'<text x="{label_width - 8}" y="{y + 15}" font-size="12" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" fill="{color}">'
            f"<title>{escape(label)}: {value:,.0f}</title></rect>"
            f'<text x="{label_width + w + 6:.1f}" y="{y + 15}" font-size="12" fill="#333">{value:,.0f}</text>'
        )
    out.append("</svg>")
    return "".join(out)
