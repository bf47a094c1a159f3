"""Data Docs need nothing from outside the site folder: no CDN, no script, every local file there."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from schemas import shard
from schemas.data_docs_offline import OFFLINE_STYLES
from schemas.expectations import ROWS_SUITE
from schemas.gx_offline import gx
from schemas.validate import validate_output
from tests.schemas.shard_fixtures import write_output

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""", re.IGNORECASE)


class _Page(HTMLParser):
    """What a browser would fetch to draw the page, and where its links lead."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.fetched: list[str] = []  # stylesheets, scripts, images, CSS url()s
        self.links: list[str] = []
        self.scripts = 0
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "link":
            self.fetched.append(values.get("href", ""))
        elif tag == "script":
            self.scripts += 1
            if "src" in values:
                self.fetched.append(values["src"])
        elif tag == "img":
            self.fetched.append(values.get("src", ""))
        elif tag == "a" and "href" in values:
            self.links.append(values["href"])
        self._in_style = tag == "style"
        if "style" in values:
            self.fetched += _CSS_URL.findall(values["style"])

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.fetched += _CSS_URL.findall(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False


def _pages(index: Path) -> dict[Path, _Page]:
    return {path: _Page(path.read_text(encoding="utf-8")) for path in sorted(index.parent.rglob("*.html"))}


def _local_file(page: Path, reference: str) -> Path:
    return (page.parent / reference.split("#")[0].split("?")[0]).resolve()


def test_no_page_fetches_anything_from_off_the_machine_and_every_file_it_fetches_is_in_the_site(
    valid_output: Path,
) -> None:
    index = validate_output(valid_output, workers=1).data_docs
    pages = _pages(index)
    assert len(pages) == 1 + 4 + 5  # the index, four suites, five validations (two shards, files, run, accounting)
    for path, page in pages.items():
        remote = [reference for reference in page.fetched if _REMOTE.match(reference)]
        assert remote == [], path
        missing = [reference for reference in page.fetched if reference != "none"
                   and not _local_file(path, reference).is_file()]
        assert missing == [], path
        assert page.scripts == 0, path  # GX's scripts all drive the CDN libraries
        assert any("static/images/logo-long.png" in reference for reference in page.fetched), path


def test_index_links_every_validation_and_suite_page_without_a_script(valid_output: Path) -> None:
    index = validate_output(valid_output, workers=1).data_docs
    linked = {_local_file(index, href) for href in _pages(index)[index].links if not _REMOTE.match(href)
              and not href.startswith("#")}
    on_disk = {path.resolve() for folder in ("validations", "expectations")
               for path in (index.parent / folder).rglob("*.html")}
    assert len(on_disk) == 4 + 5 and on_disk <= linked


def test_a_failed_expectation_shows_a_failure_mark_offline(tmp_path: Path, shard_rows: list[list[dict]]) -> None:
    shard_rows[0][0][shard.INPUT_IDS][0] = shard_rows[0][0][shard.INPUT_IDS][1]  # no [CLS] first
    report = validate_output(write_output(tmp_path / "out", shard_rows), workers=1)
    assert not report.success
    failed = [path for path in report.data_docs.parent.glob(f"validations/{ROWS_SUITE}/**/*.html")
              if "fa-times text-danger" in path.read_text(encoding="utf-8")]
    assert len(failed) == 1 and ".fa-times::before{content:" in OFFLINE_STYLES


def test_every_icon_gx_draws_has_an_offline_glyph() -> None:
    package = Path(gx.__file__).parent
    icons = {icon for path in package.rglob("*") if path.suffix in (".py", ".j2")
             for icon in re.findall(r"\bfa-[a-z][a-z-]*", path.read_text(encoding="utf-8", errors="replace"))}
    assert {"fa-check-circle", "fa-times"} <= icons
    assert sorted(icon for icon in icons if f".{icon}::before" not in OFFLINE_STYLES) == []


def test_a_project_from_an_older_run_renders_offline_too(valid_output: Path) -> None:
    gx.get_context(mode="file", project_root_dir=str(valid_output))  # GX's own local site, CDN links and all
    index = validate_output(valid_output, workers=1).data_docs
    assert all(page.scripts == 0 for page in _pages(index).values())
    assert "OfflineIndexPageView" in (valid_output / "gx" / "great_expectations.yml").read_text()
