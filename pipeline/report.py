"""report.html: a run's summary.json for people, readable offline in one file.

The page is a view of the summary dict and nothing else, so every number in it is one of summary.json's:
each carries the JSON pointer of its value (`data-key="/sources/0/rows"`), which is how
tests/pipeline/beam/test_report_matches_summary.py checks them. Plots are bar charts written as inline
SVG: no network, no JavaScript, no sibling files. They were matplotlib PNGs: importing matplotlib and
drawing three figures cost a run 0.9 CPU seconds, a sixth of a small run's fixed cost, for a few dozen
rectangles. The figures themselves are computed in pipeline/corpus_profile.py.
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

REPORT_NAME = "report.html"
SOURCES_SHOWN = 50  # rows of the per-source tables; summary.json lists every source
_WIDTH = 720  # pixels of every chart
_FONT = 'font-family="sans-serif" font-size="12"'
_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
section{margin:0 0 2.5em}h2{border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;margin:0.8em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
tr.all td{font-weight:bold;background:#f4f4f4}p.note{color:#555;font-size:13px;max-width:60em}
.example{border-left:3px solid #c0504d;margin:0.6em 0;padding:2px 10px;font-size:13px}
.warning{border-left:4px solid #e46c0a;background:#fdf1e6;padding:4px 10px}
.example .text{color:#444;white-space:pre-wrap}"""


def pointer(*parts: object) -> str:
    """The JSON pointer (RFC 6901) of a value in the summary."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _count(value: int) -> str:
    return f"{value:,}"


def _percent(digits: int):
    return lambda value: f"{100 * value:.{digits}f}%"


def _decimal(digits: int):
    return lambda value: f"{value:,.{digits}f}"


def _get(summary: Mapping, key: str):
    value = summary
    for part in key.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


class _Page:
    """Formats the summary's values, each tagged with its pointer."""

    def __init__(self, summary: Mapping) -> None:
        self.summary = summary

    def value(self, key: str, fmt=_count) -> str:
        return fmt(_get(self.summary, key))

    def cell(self, key: str, fmt=_count) -> str:
        return f'<td class="num" data-key="{html.escape(key)}">{self.value(key, fmt)}</td>'

    def span(self, key: str, fmt=_count) -> str:
        return f'<span class="num" data-key="{html.escape(key)}">{self.value(key, fmt)}</span>'


def _svg(title: str, height: int, body: list[str], width: int = _WIDTH) -> str:
    return (f'<svg role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" {_FONT}><title>{html.escape(title)}</title>'
            f'<text x="{width // 2}" y="16" text-anchor="middle" font-size="14">{html.escape(title)}</text>'
            + "".join(body) + "</svg>")


def _row_chart(page: _Page, title: str, bars: Sequence[tuple[str, str]], fmt, unit: str, color: str) -> str:
    """One horizontal bar per (label, pointer), in the order given, the value printed at the bar's end."""
    left, top, bar = 170, 28, 20
    width = _WIDTH - left - 90
    values = [_get(page.summary, key) for _, key in bars]
    peak = max(values, default=0) or 1
    body = []
    for index, ((label, key), value) in enumerate(zip(bars, values)):
        y = top + index * (bar + 6)
        length = width * value / peak
        body.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{html.escape(label)}</text>'
                    f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{color}"/>'
                    f'<text class="num" data-key="{html.escape(key)}" x="{left + length + 4:.1f}" y="{y + 14}">'
                    f"{page.value(key, fmt)}</text>")
    height = top + len(bars) * (bar + 6) + 24
    body.append(f'<text x="{left + width // 2}" y="{height - 6}" text-anchor="middle">{html.escape(unit)}</text>')
    return _svg(title, height, body)


def _column_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]],
                  x_title: str, y_title: str) -> str:
    """Side-by-side columns per label, one per (name, counts, colour) series, on a linear axis from 0 to
    the largest count (the exact counts are in the table under the chart); a legend for several series."""
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


def _sparkline(counts: Sequence[int], title: str) -> str:
    """A source's row-length histogram, small enough for a table cell."""
    width, height = 128, 22
    peak = max(counts, default=0) or 1
    step = width / max(1, len(counts))
    bars = "".join(f'<rect x="{index * step:.1f}" y="{height - height * count / peak:.1f}" width="{step - 1:.1f}" '
                   f'height="{height * count / peak:.1f}" fill="#4f81bd"/>' for index, count in enumerate(counts))
    return (f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f"<title>{html.escape(title)}</title>{bars}</svg>")


def length_labels(edges: Sequence[int]) -> list[str]:
    """Labels of the document length bins: [lo, hi) each, the last open-ended."""
    def short(n: int) -> str:
        return f"{n // 1000}k" if n >= 1000 else str(n)

    return [f"{short(lo)}-{short(hi)}" for lo, hi in zip(edges, edges[1:])] + [f">={short(edges[-1])}"]


def row_token_labels(edges: Sequence[int]) -> list[str]:
    """Labels of the row length bins: (lo, hi] each."""
    return [f"{lo + 1}-{hi}" for lo, hi in zip(edges, edges[1:])]


def _shared_folder(paths: Sequence[str]) -> str:
    """The folder all sources share, left out of their names so a table column stays narrow."""
    folders = {path.rsplit("/", 1)[0] + "/" if "/" in path else "" for path in paths}
    return folders.pop() if len(folders) == 1 else ""


def _table(header: Sequence[str], rows: Sequence[str]) -> str:
    heads = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    return f"<table><tr>{heads}</tr>{''.join(rows)}</table>"


def _by_source(page: _Page, header: Sequence[str], cells) -> str:
    """A table with the run's row ("all sources") first, then one row per source (the first
    `SOURCES_SHOWN`); `cells(base)` gives a row's cells for the values under pointer `base`, where
    the run's are at the summary's top level."""
    sources = page.summary["sources"]
    shown = sources[:SOURCES_SHOWN]
    folder = _shared_folder([source["path"] for source in sources])
    names = [source["path"].removeprefix(folder) for source in shown]
    rows = [f'<tr class="all"><td>all sources</td>{cells("")}</tr>']
    rows += [f'<tr><td title="{html.escape(source["path"])}">{html.escape(name)}</td>'
             f'{cells(pointer("sources", i))}</tr>' for i, (source, name) in enumerate(zip(shown, names))]
    table = _table(["source", *header], rows)
    if len(sources) > len(shown):
        table += f'<p class="note">The first {len(shown)} of {len(sources)} sources; summary.json lists all.</p>'
    return table


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def _run(page: _Page) -> str:
    figures = [
        ("records read", "/documents/read", _count),
        ("documents kept", "/documents/kept", _count),
        ("documents rejected", "/profile/documents_rejected", _count),
        ("rows", "/rows", _count),
        ("examples (SOP pairs and single segments)", "/profile/examples", _count),
        ("examples per row (mean)", "/profile/mean_examples_per_row", _decimal(2)),
        ("tokens", "/tokens", _count),
        ("tokens per row (mean)", "/profile/mean_row_tokens", _decimal(1)),
        ("content tokens trimmed to fit max_seq_len", "/profile/trimmed/trimmed_tokens", _count),
        ("share of content tokens trimmed", "/profile/trimmed/trimmed_share", _percent(2)),
        ("[UNK] tokens", "/profile/unk_tokens", _count),
        ("[UNK] rate (of all tokens)", "/profile/unk_rate", _percent(4)),
        ("fill of random micro-batches", "/profile/padding/fill_of_micro_batches", _percent(1)),
        ("fill of max_seq_len", "/profile/padding/fill_of_max_seq_len", _percent(1)),
        ("characters kept", "/profile/characters", _count),
        ("shards", "/shards", _count),
    ]
    rows = [f"<tr><td>{html.escape(name)}</td>{page.cell(key, fmt)}</tr>" for name, key, fmt in figures]
    note = (f'<p class="note">Records read counts every record of the inputs, parsed or not; read = kept + '
            f'rejected. Rows are at most {page.span("/basis/max_seq_len")} tokens and hold one or more whole '
            "examples (one each with --no-pack). Trimmed: content tokens of kept documents that no example "
            "holds, cut off by max_seq_len.</p>")
    warnings = "".join(f'<p class="warning">{html.escape(text)}</p>' for text in page.summary.get("warnings", []))
    return _section("run", "Run", warnings + _table(["figure", "value"], rows) + note)


def _sources(page: _Page) -> str:
    def cells(base: str) -> str:
        return "".join([
            page.cell(f"{base}/documents/read"), page.cell(f"{base}/documents/kept"),
            page.cell(f"{base}/profile/documents_rejected"), page.cell(f"{base}/rows"),
            page.cell(f"{base}/tokens"), page.cell(f"{base}/profile/mean_row_tokens", _decimal(1)),
            page.cell(f"{base}/profile/unk_rate", _percent(4)),
            page.cell(f"{base}/profile/padding/fill_of_micro_batches", _percent(1)),
            page.cell(f"{base}/profile/padding/fill_of_max_seq_len", _percent(1)),
            f'<td>{_sparkline(_get(page.summary, f"{base}/profile/row_tokens"), "rows by length")}</td>',
        ])

    header = ["read", "kept", "rejected", "rows", "tokens", "tokens/row", "[UNK] rate", "fill (micro-batches)",
              "fill (max_seq_len)", "row lengths"]
    return _section("sources", "Sources", _by_source(page, header, cells) + (
        '<p class="note">A source is one input file. Row lengths: the histogram of the section below, '
        "per source.</p>"))


def _rows(page: _Page) -> str:
    basis = page.summary["basis"]
    labels = row_token_labels(basis["row_token_edges"])
    counts = page.summary["profile"]["row_tokens"]
    chart = _column_chart("Rows by length", labels, [("rows", counts, "#4f81bd")], "tokens in the row", "rows")
    table = _table(["tokens", *labels], [
        "<tr><td>rows</td>" + "".join(page.cell(pointer("profile", "row_tokens", i)) for i in range(len(counts)))
        + "</tr>"])
    note = (f'<p class="note">Fill of random micro-batches: the share of real tokens when '
            f'{page.span("/basis/micro_batch_rows")} rows drawn at random are padded to the longest of them, '
            f'as the trainer pads (here {page.span("/profile/padding/fill_of_micro_batches", _percent(1))}); '
            f"computed exactly from the row lengths: mean length / expected longest. Fill of max_seq_len: "
            f"tokens / (rows &times; max_seq_len) (here "
            f'{page.span("/profile/padding/fill_of_max_seq_len", _percent(1))}), what padding every row to '
            "max_seq_len would give.</p>")
    return _section("rows", "Row lengths and padding", chart + table + note)


def _entities(page: _Page) -> str:
    types = list(page.summary["profile"]["entities_per_1k_chars"])
    if not types:
        return _section("entities", "Entities per 1,000 characters",
                        '<p class="note">The run had no entity lexicon types.</p>')
    chart = _row_chart(page, "Entities per 1,000 characters, by type",
                       [(name, pointer("profile", "entities_per_1k_chars", name)) for name in types],
                       _decimal(2), "entities per 1,000 characters kept", "#9bbb59")

    def cells(base: str) -> str:
        return "".join(page.cell(f"{base}/profile/entities_per_1k_chars/{name}", _decimal(2)) for name in types) \
            + page.cell(f"{base}/profile/characters")

    table = _by_source(page, [*types, "characters"], cells)
    note = ('<p class="note">Entities linked from the lexicons (the spans the trainer masks whole), per 1,000 '
            "characters of the kept documents.</p>")
    return _section("entities", "Entities per 1,000 characters", chart + table + note)


def _sop(page: _Page) -> str:
    names = ("original", "swapped", "single")
    chart = _row_chart(page, "Rows by sentence-order label",
                       [(name, pointer("profile", "sop", name)) for name in names], _count, "rows", "#8064a2")

    def cells(base: str) -> str:
        return "".join(page.cell(f"{base}/profile/sop_shares/{name}", _percent(1)) for name in names)

    table = _by_source(page, names, cells)
    note = ('<p class="note">Original: segment B follows A in the document; swapped: B and A exchanged '
            "(the SOP task's negatives); single: a one-sentence document, no SOP loss. Shares of examples.</p>")
    return _section("sop", "SOP balance", chart + table + note)


def _rejections(page: _Page) -> str:
    rejected = page.summary["documents"]["rejected"]
    if not rejected:
        return _section("rejections", "Rejections by reason", '<p class="note">No document was rejected.</p>')
    reasons = sorted(rejected, key=lambda reason: (-rejected[reason], reason))
    chart = _row_chart(page, "Rejected documents by reason",
                       [(r, pointer("documents", "rejected", r)) for r in reasons], _count, "documents", "#c0504d")

    def cells(base: str) -> str:
        found = _get(page.summary, f"{base}/documents/rejected")
        return "".join(page.cell(f"{base}/documents/rejected/{reason}") if reason in found else "<td></td>"
                       for reason in reasons)

    return _section("rejections", "Rejections by reason", chart + _by_source(page, reasons, cells))


def _examples(page: _Page) -> str:
    examples = page.summary["rejected_examples"]
    if not examples:
        return _section("examples", "Rejected documents, a few per reason",
                        '<p class="note">Run <code>prepare --ledger-text</code> to see the first rejected '
                        "documents of each reason here; the ledger (rejects/) names every one.</p>")
    parts = [f'<p class="note">The first {page.span("/basis/examples_per_reason")} of each reason, in ledger order '
             "(input files in sorted order); their full text is in rejects/.</p>"]
    rejected = page.summary["documents"]["rejected"]
    folder = _shared_folder([source["path"] for source in page.summary["sources"]])
    for reason in sorted(examples, key=lambda reason: (-rejected.get(reason, 0), reason)):
        parts.append(f"<h3>{html.escape(reason)} ({page.span(pointer('documents', 'rejected', reason))})</h3>")
        for index, example in enumerate(examples[reason]):
            key = pointer("rejected_examples", reason, index)
            detail = f" &middot; detail: {html.escape(example['detail'])}" if example["detail"] else ""
            source = example["source"].removeprefix(folder)
            parts.append(f'<div class="example"><div><code>{html.escape(example["doc_id"])}</code> &middot; '
                         f'<span title="{html.escape(example["source"])}">{html.escape(source)}</span> &middot; '
                         f'{page.span(key + "/characters")} characters{detail}</div>'
                         f'<div class="text" lang="zh">{html.escape(example["excerpt"])}</div></div>')
    return _section("examples", "Rejected documents, a few per reason", "".join(parts))


def _lengths(page: _Page) -> str:
    labels = length_labels(page.summary["basis"]["length_edges"])
    lengths = page.summary["lengths"]
    chart = _column_chart("Documents by length", labels,
                          [("parsed (raw text)", lengths["read"], "#7f7f7f"),
                           ("kept (cleaned, deduplicated)", lengths["kept"], "#4f81bd")],
                          "characters", "documents")
    rows = [f"<tr><td>{name}</td>" + "".join(page.cell(pointer("lengths", kind, i)) for i in range(len(labels)))
            + "</tr>" for name, kind in (("parsed", "read"), ("kept", "kept"))]
    note = ('<p class="note">Parsed: every record that parsed into a document, before cleaning (records that '
            "did not parse are rejected, not counted here); kept: the documents that reached the shards.</p>")
    return _section("lengths", "Document lengths", chart + _table(["characters", *labels], rows) + note)


def _clusters(page: _Page) -> str:
    clusters = page.summary["near_duplicate_clusters"]
    title = "Near-duplicate clusters"
    if not clusters:
        return _section("clusters", title, '<p class="note">No near-duplicate clusters.</p>')
    if len(clusters) == 1:
        (size,) = clusters
        return _section("clusters", title, f"<p>{page.span(pointer('near_duplicate_clusters', size))} clusters, all "
                        f"of {html.escape(size)} documents; one document of each is kept.</p>")
    rows = [f"<tr><td>{html.escape(size)}</td>{page.cell(pointer('near_duplicate_clusters', size))}</tr>"
            for size in sorted(clusters, key=int)]
    return _section("clusters", title, _table(["documents in the cluster", "clusters"], rows)
                    + '<p class="note">One document of each cluster is kept.</p>')


def render_report(summary: Mapping) -> str:
    """The whole report.html for a summary.json dict, as a string."""
    page = _Page(summary)
    sections = [_run(page), _sources(page), _rows(page), _entities(page), _sop(page), _rejections(page),
                _examples(page), _lengths(page), _clusters(page)]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>erlangshen-data: run report</title>
<style>{_STYLE}</style></head>
<body><h1>Run report</h1>
<p class="note">What this run's shards hold, per run and per source, and what cleaning and deduplication
dropped. Every number here is one of summary.json's.</p>
{"".join(sections)}
</body></html>
"""
