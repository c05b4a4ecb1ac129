"""A small static preview of the equity curves for the Dagster UI: a hand-written SVG
(one polyline per strategy), a few kilobytes and no plotting library. Its explicit
width and height give the image a natural size when embedded as a data: URI."""

from __future__ import annotations

import base64
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from stock_pipeline.trading.report.formatting import color

WIDTH, HEIGHT = 600, 220
MARGIN = {"left": 46, "right": 12, "top": 24, "bottom": 22}
MAX_POINTS = 300  # per curve: plenty at 600 px, and keeps the metadata small


def _sampled(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Evenly spaced indices into n points, first and last included."""
    return np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(int))


def equity_svg(frames: dict[str, pd.DataFrame]) -> str:
    """The equity of each strategy (columns date, equity) on one chart, the line at 1.0
    dashed, the first and last date under the x axis."""
    left, top = MARGIN["left"], MARGIN["top"]
    inner_w = WIDTH - left - MARGIN["right"]
    inner_h = HEIGHT - top - MARGIN["bottom"]
    curves = {name: f["equity"].to_numpy(float) for name, f in frames.items() if len(f)}
    finite = [c[np.isfinite(c)] for c in curves.values()]
    pooled = np.concatenate([*finite, [1.0]])
    low, high = float(pooled.min()), float(pooled.max())
    if high - low < 1e-12:
        low, high = low - 0.01, high + 0.01

    def y_of(value: np.ndarray | float) -> np.ndarray:
        return top + (high - np.asarray(value, dtype=float)) / (high - low) * inner_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<line x1="{left}" x2="{left + inner_w}" y1="{y_of(1.0):.1f}" y2="{y_of(1.0):.1f}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{high:.2f}</text>',
        f'<text x="{left - 4}" y="{top + inner_h}" text-anchor="end">{low:.2f}</text>',
    ]
    for index, (name, curve) in enumerate(curves.items()):
        keep = _sampled(len(curve))
        keep = keep[np.isfinite(curve[keep])]
        xs = left + (keep / max(len(curve) - 1, 1)) * inner_w
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, y_of(curve[keep]), strict=True))
        shade = color(name, index)
        parts.append(
            f'<polyline fill="none" stroke="{shade}" stroke-width="1.5" points="{points}"/>'
        )
        parts.append(
            f'<text x="{left + 4 + 110 * index}" y="14" fill="{shade}">{escape(name)}</text>'
        )
    dates = [f["date"] for f in frames.values() if len(f)]
    if dates:
        first, last = min(d.min() for d in dates), max(d.max() for d in dates)
        bottom = HEIGHT - 6
        parts.append(f'<text x="{left}" y="{bottom}">{pd.Timestamp(first):%Y-%m-%d}</text>')
        parts.append(
            f'<text x="{left + inner_w}" y="{bottom}" text-anchor="end">'
            f"{pd.Timestamp(last):%Y-%m-%d}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def equity_svg_base64(frames: dict[str, pd.DataFrame]) -> str:
    return base64.b64encode(equity_svg(frames).encode("utf-8")).decode("ascii")
