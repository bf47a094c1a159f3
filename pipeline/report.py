"""report.html: what cleaning and deduplication did to a run, readable offline in one file.

Plots are PNGs drawn by matplotlib (Agg, no display needed) and embedded as base64, so the file needs
no network, no JavaScript and no sibling files. The inputs are small aggregates (reason counts, length
bins, cluster-size counts) that the pipeline combines, never per-document lists.
"""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence

# Document length bins in characters: log-spaced, so app blurbs and long articles both stay visible.
LENGTH_EDGES = (0, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 500_000)
REPORT_NAME = "report.html"


def length_bin(length: int) -> int:
    """Index of the bin `length` falls in; the last bin is open-ended."""
    for index in range(len(LENGTH_EDGES) - 1, -1, -1):
        if length >= LENGTH_EDGES[index]:
            return index
    return 0


def bin_labels() -> list[str]:
    def short(n: int) -> str:
        return f"{n // 1000}k" if n >= 1000 else str(n)

    pairs = zip(LENGTH_EDGES, LENGTH_EDGES[1:])
    return [f"{short(lo)}-{short(hi)}" for lo, hi in pairs] + [f">={short(LENGTH_EDGES[-1])}"]


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(rejected: Mapping[str, int], before: Sequence[int], after: Sequence[int],
             clusters: Mapping[int, int]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")  # no display on workers
    import matplotlib.pyplot as plt

    images = []
    reasons = sorted(rejected.items(), key=lambda item: (-item[1], item[0]))
    figure, axes = plt.subplots(figsize=(8, 0.35 * max(3, len(reasons)) + 1))
    axes.barh([name for name, _ in reasons][::-1], [count for _, count in reasons][::-1], color="#c0504d")
    axes.set_xlabel("documents")
    axes.set_title("Rejected documents by reason")
    images.append(("Rejections by reason", _png(figure)))
    plt.close(figure)

    labels = bin_labels()
    figure, axes = plt.subplots(figsize=(10, 4))
    positions = range(len(labels))
    axes.bar([p - 0.2 for p in positions], before, width=0.4, label="read (raw text)", color="#7f7f7f")
    axes.bar([p + 0.2 for p in positions], after, width=0.4, label="kept (cleaned, deduplicated)", color="#4f81bd")
    axes.set_xticks(list(positions), labels, rotation=45, ha="right")
    axes.set_xlabel("characters")
    axes.set_ylabel("documents")
    axes.set_title("Document length before and after cleaning")
    axes.legend()
    images.append(("Document lengths", _png(figure)))
    plt.close(figure)

    figure, axes = plt.subplots(figsize=(8, 3.5))
    sizes = sorted(clusters)
    axes.bar([str(s) for s in sizes], [clusters[s] for s in sizes], color="#9bbb59")
    axes.set_xlabel("documents in the cluster (kept one included)")
    axes.set_ylabel("clusters")
    axes.set_title("Near-duplicate cluster sizes")
    images.append(("Near-duplicate clusters", _png(figure)))
    plt.close(figure)
    return images


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
    images = "".join(f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
                     for title, data in _figures(rejected, before, after, clusters))
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
