"""A stacked bar chart of an agency's traffic by data source, as inline SVG (no JavaScript, no
chart library): readable in a browser, a screenshot and a printout alike."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Final

from clets_watch.web.data import Traffic

# One colour per data source; colour-blind-safe (Okabe-Ito) with a grey fallback.
SOURCE_COLOURS: Final[dict[str, str]] = {
    "dmv_license": "#D55E00",
    "dmv_registration": "#E69F00",
    "criminal_history": "#0072B2",
    "wanted_person": "#009E73",
    "property": "#56B4E9",
    "corrections": "#CC79A7",
    "hit_confirmation": "#F0E442",
}
OTHER_COLOUR: Final = "#999999"
WIDTH: Final = 1200
HEIGHT: Final = 280
PAD_LEFT: Final = 48
PAD_RIGHT: Final = 12
PAD_TOP: Final = 12
PAD_BOTTOM: Final = 36


def colour(source: str) -> str:
    return SOURCE_COLOURS.get(source, OTHER_COLOUR)


@dataclass(frozen=True, slots=True)
class LegendItem:
    source: str
    colour: str
    count: int


def legend(traffic: Traffic) -> list[LegendItem]:
    totals = {s: sum(b.by_data_source.get(s, 0) for b in traffic.buckets) for s in traffic.data_sources}
    return [LegendItem(s, colour(s), totals[s]) for s in traffic.data_sources]


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for m in (1, 2, 2.5, 5, 10):
        top = int(m * magnitude)
        if top >= value:
            return top
    return value


def traffic_svg(traffic: Traffic, *, title: str) -> str:
    """The chart as an ``<svg>`` element string (escaped; safe to mark as HTML)."""
    if not traffic.buckets:
        return '<p class="muted">No closed windows for this agency yet.</p>'
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    top = _nice_max(max(b.total for b in traffic.buckets))
    n = len(traffic.buckets)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8)
    parts = [
        (
            f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        ),
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):  # gridlines and y labels
        value = top * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" class="ylabel">{value:g}</text>')
    label_every = max(1, n // 8)
    for i, bucket in enumerate(traffic.buckets):
        x = PAD_LEFT + i * slot + (slot - bar_w) / 2
        y = PAD_TOP + plot_h
        for source in traffic.data_sources:
            count = bucket.by_data_source.get(source, 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour(source)}">'
                f"<title>{escape(bucket.start.strftime('%Y-%m-%d %H:%M'))} UTC · {escape(source)}: {count}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{PAD_LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" class="xlabel">'
                f"{bucket.start.strftime('%H:%M')}</text>"
            )
    parts.append(
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 4}" class="axis-note">event time, UTC · '
        f"{traffic.bucket_seconds // 60} min per bar · queries per bar</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
