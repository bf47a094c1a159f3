"""report.html: what cleaning and deduplication did to a run, readable offline in one file.

Plots are bar charts written as inline SVG, so the file needs no network, no JavaScript and no sibling
files. They were matplotlib PNGs: importing matplotlib and drawing three figures cost a run 0.9 CPU
seconds, a sixth of a small run's fixed cost, for a few dozen rectangles. The inputs are small
aggregates (reason counts, length bins, cluster-size counts) that the pipeline combines, never
per-document lists.
"""
from __future__ import annotations

import html
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence

# Document length bins in characters: log-spaced, so app blurbs and long articles both stay visible.
LENGTH_EDGES = (0, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000)
REPORT_NAME = "report.html"
_WIDTH = 720  # pixels of every chart
_FONT = 'font-family="sans-serif" font-size="12"'


def length_bin(length: int) -> int:
    """Index of the bin `length` falls in; the last bin is open-ended."""
    return max(0, bisect_right(LENGTH_EDGES, length) - 1)


def length_histogram(lengths: Iterable[int]) -> list[int]:
    """Documents per length bin, for lengths in characters."""
    bins = [0] * len(LENGTH_EDGES)
    for length in lengths:
        bins[length_bin(length)] += 1
    return bins


def bin_labels() -> list[str]:
    def short(n: int) -> str:
        return f"{n // 1000}k" if n >= 1000 else str(n)

    pairs = zip(LENGTH_EDGES, LENGTH_EDGES[1:])
    return [f"{short(lo)}-{short(hi)}" for lo, hi in pairs] + [f">={short(LENGTH_EDGES[-1])}"]


def _svg(title: str, height: int, body: list[str]) -> str:
    return (f'<svg role="img" width="{_WIDTH}" height="{height}" '
            f'viewBox="0 0 {_WIDTH} {height}" {_FONT}><title>{html.escape(title)}</title>'
            f'<text x="{_WIDTH // 2}" y="16" text-anchor="middle" font-size="14">{html.escape(title)}</text>'
            + "".join(body) + "</svg>")


def _row_chart(title: str, counts: Sequence[tuple[str, int]], unit: str, color: str) -> str:
    """One horizontal bar per (label, count), largest first as given, its count at the bar's end."""
    left, top, bar = 170, 28, 20
    width = _WIDTH - left - 80
    peak = max((count for _, count in counts), default=0) or 1
    body = []
    for index, (label, count) in enumerate(counts):
        y = top + index * (bar + 6)
        length = width * count / peak
        body.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{html.escape(label)}</text>'
                    f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{color}"/>'
                    f'<text x="{left + length + 4:.1f}" y="{y + 14}">{count:,}</text>')
    height = top + len(counts) * (bar + 6) + 24
    body.append(f'<text x="{left + width // 2}" y="{height - 6}" text-anchor="middle">{html.escape(unit)}</text>')
    return _svg(title, height, body)


def _column_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]],
                  x_title: str, y_title: str) -> str:
    """Side-by-side columns per label, one per (name, counts, colour) series, on a linear axis
    from 0 to the largest count; a legend when there is more than one series."""
    left, top, plot_height = 70, 64, 220
    width = _WIDTH - left - 20
    peak = max((count for _, counts, _ in series for count in counts), default=0) or 1
    slot = width / max(1, len(labels))
    column = slot * 0.8 / len(series)
    base = top + plot_height
    body = [f'<line x1="{left}" y1="{base}" x2="{left + width}" y2="{base}" stroke="#333"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#333"/>']
    for tick in sorted({peak // 2, peak} - {0}):
        y = base - plot_height * tick / peak
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" stroke="#ddd"/>'
                    f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:,}</text>')
    body.append(f'<text x="{left - 4}" y="{base + 4}" text-anchor="end">0</text>')
    for index, label in enumerate(labels):
        x = left + slot * index + slot * 0.1
        for number, (_, counts, color) in enumerate(series):
            height = plot_height * counts[index] / peak
            body.append(f'<rect x="{x + column * number:.1f}" y="{base - height:.1f}" width="{column:.1f}" '
                        f'height="{height:.1f}" fill="{color}"/>')
        middle = left + slot * (index + 0.5)
        body.append(f'<text x="{middle:.1f}" y="{base + 14}" text-anchor="end" '
                    f'transform="rotate(-45 {middle:.1f} {base + 14})">{html.escape(label)}</text>')
    height = base + 80
    body.append(f'<text x="{left + width // 2}" y="{height - 6}" text-anchor="middle">{html.escape(x_title)}</text>'
                f'<text x="14" y="{top + plot_height // 2}" text-anchor="middle" '
                f'transform="rotate(-90 14 {top + plot_height // 2})">{html.escape(y_title)}</text>')
    if len(series) > 1:
        for number, (name, _, color) in enumerate(series):
            y = 38 + number * 16
            body.append(f'<rect x="{left + width - 230}" y="{y - 10}" width="12" height="12" fill="{color}"/>'
                        f'<text x="{left + width - 212}" y="{y}">{html.escape(name)}</text>')
    return _svg(title, height, body)


def _figures(rejected: Mapping[str, int], before: Sequence[int], after: Sequence[int],
             clusters: Mapping[int, int]) -> list[tuple[str, str]]:
    reasons = sorted(rejected.items(), key=lambda item: (-item[1], item[0]))
    sizes = sorted(clusters)
    return [
        ("Rejections by reason", _row_chart("Rejected documents by reason", reasons, "documents", "#c0504d")),
        ("Document lengths", _column_chart(
            "Document length before and after cleaning", bin_labels(),
            [("read (raw text)", before, "#7f7f7f"), ("kept (cleaned, deduplicated)", after, "#4f81bd")],
            "characters", "documents")),
        ("Near-duplicate clusters", _column_chart(
            "Near-duplicate cluster sizes", [str(size) for size in sizes],
            [("clusters", [clusters[size] for size in sizes], "#9bbb59")],
            "documents in the cluster (kept one included)", "clusters")),
    ]


def render_report(documents: Mapping[str, object], rejected: Mapping[str, int], before: Sequence[int],
                  after: Sequence[int], clusters: Mapping[int, int]) -> str:
    """The whole report.html as a string: tables for exact figures, embedded plots for the shapes."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{count:,}</td></tr>"
        for name, count in sorted(rejected.items(), key=lambda item: (-item[1], item[0]))
    )
    summary = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                      for k, v in documents.items())
    cluster_rows = "".join(f"<tr><td>{size}</td><td>{count:,}</td></tr>" for size, count in sorted(clusters.items()))
    length_rows = "".join(f"<tr><td>{label}</td><td>{b:,}</td><td>{a:,}</td></tr>"
                          for label, b, a in zip(bin_labels(), before, after))
    charts = _figures(rejected, before, after, clusters)
    images = "".join(f"<h2>{html.escape(title)}</h2>{svg}" for title, svg in charts)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>erlangshen-data: cleaning report</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 10px;text-align:right}}td:first-child{{text-align:left}}</style></head>
<body><h1>Cleaning and deduplication report</h1>
<h2>Documents</h2><table>{summary}</table>
<h2>Rejections by reason</h2><table><tr><th>reason</th><th>documents</th></tr>{rows}</table>
<h2>Length bins (characters)</h2><table><tr><th>bin</th><th>read</th><th>kept</th></tr>{length_rows}</table>
<h2>Near-duplicate clusters</h2><table><tr><th>size</th><th>clusters</th></tr>{cluster_rows}</table>
{images}
</body></html>
"""
