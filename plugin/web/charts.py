"""Server-side SVG charts: pure functions from numbers to markup. No JavaScript, no network, no CDN.

Accessible by construction (WCAG 2.1 AA):
- each chart is one image to assistive technology: role="img", named by its <title> and described by its
  <desc> through aria-labelledby;
- series are told apart without colour: each has its own fill pattern (solid, stripes, dots, cross-hatch),
  a legend, and every bar carries its value as a direct label;
- colours reach 3:1 against the page and card backgrounds (1.4.11) and text reaches 4.5:1 (1.4.3);
- all text is escaped; only presentation attributes are used (the CSP forbids inline styles).
Pages still follow every chart with a table of the same numbers: the chart is a picture of the table.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from plugin.i18n import format_decimal, format_percent
from plugin.i18n import gettext as _

BACKGROUNDS = ("#ffffff", "#f5f7fa")  # card and page (static/css/tinker.css --card, --bg)
INK, MUTED, GRID, HALO = "#1f2933", "#52606d", "#d9e2ec", "#ffffff"
PALETTE = ("#2f54c8", "#8a5a00", "#276738", "#9b2c2c", "#6b3fa0", "#0f5f6e")
PATTERNS = ("solid", "stripes", "dots", "cross")
WIDTH = 640
FONT = 13
CHAR_W = 7.2  # rough advance of a character at FONT, for fitting labels

_ID = re.compile(r"[a-z][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    colour: str | None = None


def default_text(value: float) -> str:
    """A count, or a value to one decimal, in the request's language ("1,234" / "1.234"; "2.5" / "2,5")."""
    return format_decimal(value, "#,##0.#")


def decimal_text(value: float) -> str:
    """Always one decimal (hours): "9.0" / "9,0"."""
    return format_decimal(value, "#,##0.0")


def percent_text(value: float) -> str:
    """A value already in percent (42 -> "42%" / "%42")."""
    return format_percent(float(value) / 100, "#,##0.#%")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least value (0 for nothing)."""
    if not value or value <= 0 or math.isnan(value):
        return 0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            nice = step * power
            return int(nice) if float(nice).is_integer() else nice
    return 10 * power  # pragma: no cover - the loop always returns


def _num(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) or number < 0 else number


@lru_cache(maxsize=4096)  # a team page writes some 250 coordinates, most of them the same few values
def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def _fit(text: str, width: float) -> str:
    room = max(3, int(width // CHAR_W))
    return text if len(text) <= room else text[:room - 1].rstrip() + "…"


def _check_id(chart_id: str) -> str:
    if not _ID.fullmatch(chart_id or ""):
        raise ValueError(f"chart ids are lower-case letters, digits and dashes: {chart_id!r}")
    return chart_id


def _style(chart_id: str, index: int, colour: str | None) -> tuple[str, str]:
    """(fill, stroke) of the index-th series: its colour, and a pattern for all but the first."""
    colour = colour or PALETTE[index % len(PALETTE)]
    pattern = PATTERNS[index % len(PATTERNS)]
    return (colour if pattern == "solid" else f"url(#{chart_id}-p{index})"), colour


def _pattern_defs(chart_id: str, colours: list[str]) -> str:
    out = []
    for index, colour in enumerate(colours):
        kind, pid = PATTERNS[index % len(PATTERNS)], f"{chart_id}-p{index}"
        base = f'<rect width="8" height="8" fill="{HALO}"/>'
        if kind == "stripes":
            body = f'{base}<rect width="4" height="8" fill="{colour}"/>'
            out.append(f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse" '
                       f'patternTransform="rotate(45)">{body}</pattern>')
        elif kind == "dots":
            body = f'{base}<circle cx="4" cy="4" r="2.6" fill="{colour}"/>'
            out.append(f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">{body}</pattern>')
        elif kind == "cross":
            body = (f'{base}<path d="M0 0L8 8M8 0L0 8" stroke="{colour}" stroke-width="2.2"/>')
            out.append(f'<pattern id="{pid}" width="8" height="8" patternUnits="userSpaceOnUse">{body}</pattern>')
    return f"<defs>{''.join(out)}</defs>" if out else ""


def _text(x: float, y: float, text: str, anchor: str = "start", colour: str = INK, halo: bool = False,
          weight: str | None = None) -> str:
    extra = f' paint-order="stroke" stroke="{HALO}" stroke-width="3" stroke-linejoin="round"' if halo else ""
    bold = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}" fill="{colour}" font-size="{FONT}"'
            f'{bold}{extra}>{escape(text)}</text>')


def _svg(chart_id: str, title: str, description: str, height: float, body: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {WIDTH} {_fmt(height)}" '
        f'width="{WIDTH}" height="{_fmt(height)}" font-family="inherit" focusable="false">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
        f'{body}</svg>')


def _legend(chart_id: str, series: Sequence[Series], y: float) -> tuple[str, float]:
    """Swatches with names, wrapping onto new rows; returns (markup, height used)."""
    if len(series) < 2:
        return "", 0.0
    parts, x, row = [], 0.0, 0
    for index, s in enumerate(series):
        fill, stroke = _style(chart_id, index, s.colour)
        width = 26 + len(s.name) * CHAR_W + 18
        if x and x + width > WIDTH:
            x, row = 0.0, row + 1
        top = y + row * 22
        parts.append(f'<rect x="{_fmt(x)}" y="{_fmt(top)}" width="16" height="16" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="1.5"/>')
        parts.append(_text(x + 22, top + 13, s.name))
        x += width
    return "".join(parts), (row + 1) * 22 + 6


def bar_chart(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float], *,
              description: str = "", max_value: float | None = None,
              value_text: Callable[[float], str] = default_text, colour: str = PALETTE[0],
              empty_text: str | None = None) -> Markup:
    """Vertical bars, one per label, each with its value written above it."""
    _check_id(chart_id)
    empty_text = empty_text or _("Nothing recorded yet")
    numbers = [_num(v) for v in values][:len(labels)]
    top_value = nice_ceiling(max_value if max_value is not None else max(numbers, default=0))
    height, left, right, top, bottom = 240.0, 48.0, 8.0, 26.0, 34.0
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    base = top + plot_h
    parts = [f'<line x1="{left}" y1="{_fmt(base)}" x2="{WIDTH - right}" y2="{_fmt(base)}" stroke="{MUTED}"/>']
    ticks = [0, top_value / 2, top_value] if top_value else [0]
    for tick in ticks:
        y = base - (tick / top_value * plot_h if top_value else 0)
        if tick:
            parts.append(f'<line x1="{left}" y1="{_fmt(y)}" x2="{WIDTH - right}" y2="{_fmt(y)}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y + 4, value_text(tick), "end", MUTED))
    if not numbers:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, empty_text, "middle", MUTED))
        return _svg(chart_id, title, description or empty_text, height, "".join(parts))
    slot = plot_w / len(numbers)
    bar_w = max(2.0, slot * 0.62)
    for index, (label, value) in enumerate(zip(labels, numbers)):
        x = left + index * slot + (slot - bar_w) / 2
        bar_h = (min(value, top_value) / top_value * plot_h) if top_value else 0
        parts.append(f'<rect x="{_fmt(x)}" y="{_fmt(base - bar_h)}" width="{_fmt(bar_w)}" height="{_fmt(bar_h)}" '
                     f'fill="{colour}"/>')
        parts.append(_text(x + bar_w / 2, base - bar_h - 6, value_text(value), "middle"))
        parts.append(_text(x + bar_w / 2, base + 18, _fit(str(label), slot), "middle", MUTED))
    if not top_value:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, empty_text, "middle", MUTED))
    return _svg(chart_id, title, description or title, height, "".join(parts))


def hbar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
               stacked: bool = False, description: str = "", max_value: float | None = None,
               value_text: Callable[[float], str] = default_text, label_width: float = 200,
               empty_text: str | None = None) -> Markup:
    """Horizontal bars: one row per label; the series side by side (grouped) or end to end (stacked).

    Grouped bars carry their value at their end; stacked segments carry theirs inside when it fits, and
    each row its total at the end. Series differ by pattern as well as colour, named in a legend."""
    _check_id(chart_id)
    empty_text = empty_text or _("Nothing recorded yet")
    rows = [[_num(s.values[i]) if i < len(s.values) else 0.0 for s in series] for i in range(len(labels))]
    largest = max((sum(r) if stacked else max(r, default=0) for r in rows), default=0)
    top_value = nice_ceiling(max_value if max_value is not None else largest)
    colours = [s.colour or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]
    legend, legend_h = _legend(chart_id, series, 4)
    left, right = label_width + 8, 56.0
    plot_w = WIDTH - left - right
    bar_h = 22.0 if stacked else 14.0
    row_h = bar_h + 14 if stacked else len(series) * (bar_h + 3) + 12
    top = legend_h + 6
    height = top + max(1, len(rows)) * row_h + 6
    parts = [_pattern_defs(chart_id, colours), legend]
    parts.append(f'<line x1="{_fmt(left)}" y1="{_fmt(top)}" x2="{_fmt(left)}" y2="{_fmt(height - 6)}" '
                 f'stroke="{MUTED}"/>')
    if not rows or not series:
        parts.append(_text(left + plot_w / 2, top + row_h / 2 + 4, empty_text, "middle", MUTED))
        return _svg(chart_id, title, description or empty_text, height, "".join(parts))
    scale = (lambda v: min(v, top_value) / top_value * plot_w) if top_value else (lambda v: 0.0)
    for r, (label, values) in enumerate(zip(labels, rows)):
        y0 = top + r * row_h + 6
        parts.append(_text(left - 8, y0 + (bar_h if stacked else row_h - 12) / 2 + 4, _fit(str(label), label_width),
                           "end"))
        if stacked:
            x = left
            for index, value in enumerate(values):
                width = scale(value)
                if width <= 0:
                    continue
                fill, stroke = _style(chart_id, index, series[index].colour)
                parts.append(f'<rect x="{_fmt(x)}" y="{_fmt(y0)}" width="{_fmt(width)}" height="{_fmt(bar_h)}" '
                             f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
                text = value_text(value)
                pill = len(text) * CHAR_W + 6
                if width >= pill + 4:  # on a white pill: readable on any fill or pattern
                    parts.append(f'<rect x="{_fmt(x + (width - pill) / 2)}" y="{_fmt(y0 + 3)}" width="{_fmt(pill)}" '
                                 f'height="{_fmt(bar_h - 6)}" rx="3" fill="{HALO}"/>')
                    parts.append(_text(x + width / 2, y0 + bar_h / 2 + 4.5, text, "middle"))
                x += width
            parts.append(_text(x + 6, y0 + bar_h / 2 + 4.5, value_text(sum(values)), weight="600"))
        else:
            for index, value in enumerate(values):
                fill, stroke = _style(chart_id, index, series[index].colour)
                y = y0 + index * (bar_h + 3)
                width = scale(value)
                if width > 0:
                    parts.append(f'<rect x="{_fmt(left)}" y="{_fmt(y)}" width="{_fmt(width)}" height="{_fmt(bar_h)}" '
                                 f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>')
                parts.append(_text(left + width + 6, y + bar_h - 2.5, value_text(value)))
    if not top_value:
        parts.append(_text(left + plot_w / 2, top + 14, empty_text, "middle", MUTED, halo=True))
    return _svg(chart_id, title, description or title, height, "".join(parts))


# --- colour arithmetic, for the tests that hold the palette to WCAG ----------------------------------------
def luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
