"""Data Docs that read offline: GX's pages without the CDNs they link.

GX 1.x pages take Bootstrap 4, bootstrap-table, jQuery, popper, Font Awesome and Vega from CDNs, and
the installed package ships none of them: its render/view/static/ holds only its own stylesheet (which
it inlines into every page), its fonts and its images. On a cluster with no route out a page is raw
HTML, and the index lists nothing (bootstrap-table fills its tables in). These views render GX's pages
as GX does, then make them static pages that need nothing from outside the site folder:
- every <link> and <script> that points off the machine goes, and GX's inline scripts with them (all
  of them drive jQuery, Bootstrap or bootstrap-table); the controls that only they served are hidden;
- a small stylesheet of ours stands in for the Bootstrap classes the pages use, with text glyphs for the
  Font Awesome icons that carry meaning (passed, failed, warning);
- the index's tables are written out as rows, each linking its page;
- the logo comes from the site's static/images/, GX's own copy from the package, instead of a URL that
  carries the project's data_context_id.
A collapsed block ("Show more info...") opens when its link is followed (CSS :target), and both index
tabs show, one after the other.
"""
from __future__ import annotations

import html
import posixpath
import re
from typing import Any

from schemas.gx_offline import gx  # noqa: F401  first: switches analytics off before GX loads

# isort: split

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import pass_context

_REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref=["']?(?:https?:)?//[^>]*>""", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
# GX's own stylesheet takes its dark-mode logo from its web assets; ours keeps pages light instead.
_REMOTE_URL = re.compile(r"""url\(\s*['"]?(?:https?:)?//[^)]*\)""", re.IGNORECASE)
# The navbar's logo: GX links it remotely, inside a link home that GX writes relative to the page.
_LOGO = re.compile(r"""(<a href=")([^"]*)(">\s*<img\s+class="NO-CACHE"\s+src=")"""
                   r"""https?://[^"]*/(logo-long\.png)[^"]*""")
_FAVICON = re.compile(r'href="[./]*static/images/favicon\.ico"')
_EMPTY_TABLE = re.compile(r'(<table\s+id="([^"]+)"[^>]*>)\s*(</table>)')
_HEAD_END = re.compile(r"</head>", re.IGNORECASE)

OFFLINE_STYLES = """
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;
 font-size:15px;line-height:1.5;color:#212529;background:#fff}
a{color:#0b63ce;text-decoration:none}a:hover{text-decoration:underline}
h1,h2,h3,h4,h5,h6,.h6{margin:0 0 .5rem;font-weight:500;line-height:1.2}.h6,h6{font-size:1rem}
p{margin:0 0 1rem}strong{font-weight:600}.lead{font-size:1.15rem;font-weight:300}
.container-fluid{width:100%;padding:0 15px;box-sizing:border-box}
.row{display:flex;flex-wrap:wrap;margin:0 -15px}
[class*="col-"]{position:relative;width:100%;padding:0 15px;box-sizing:border-box;flex:0 0 100%;max-width:100%}
.col-6{flex:0 0 50%;max-width:50%}
.d-none{display:none!important}.d-flex{display:flex!important}.flex-column{flex-direction:column}
.align-items-center{align-items:center}.justify-content-center{justify-content:center}.float-left{float:left}
.h-100{height:100%}.text-center{text-align:center}.invisible{visibility:hidden}
.m-0{margin:0!important}.m-1{margin:.25rem!important}.m-2{margin:.5rem!important}
.mt-0{margin-top:0!important}.mt-1{margin-top:.25rem!important}.mb-0{margin-bottom:0!important}
.mb-1{margin-bottom:.25rem!important}.mb-2{margin-bottom:.5rem!important}.mb-3{margin-bottom:1rem!important}
.mb-4{margin-bottom:1.5rem!important}.ml-1{margin-left:.25rem!important}.ml-2{margin-left:.5rem!important}
.mr-0{margin-right:0!important}.mr-2{margin-right:.5rem!important}.mr-auto{margin-right:auto!important}
.p-0{padding:0!important}.p-1{padding:.25rem!important}.p-2{padding:.5rem!important}.p-3{padding:1rem!important}
.px-0{padding-left:0!important;padding-right:0!important}.pt-0{padding-top:0!important}
.pt-4{padding-top:1.5rem!important}.pb-0{padding-bottom:0!important}.pb-1{padding-bottom:.25rem!important}
.pb-4{padding-bottom:1.5rem!important}.pl-5{padding-left:3rem!important}.pr-3{padding-right:1rem!important}
.pr-5{padding-right:3rem!important}
@media (min-width:576px){.pl-sm-3{padding-left:1rem!important}}
@media (min-width:768px){.col-md-2{flex:0 0 16.667%;max-width:16.667%}.col-md-10{flex:0 0 83.333%;max-width:83.333%}
 .d-md-block{display:block!important}.d-md-inline-flex{display:inline-flex!important}
 .pl-md-4{padding-left:1.5rem!important}.pr-md-3{padding-right:1rem!important}}
@media (min-width:992px){.col-lg-2{flex:0 0 16.667%;max-width:16.667%}.col-lg-10{flex:0 0 83.333%;max-width:83.333%}}
.navbar{display:flex;align-items:center;padding:.5rem 1rem;background:#fff}
.sticky-top{position:sticky;top:0;z-index:1020}.border-bottom{border-bottom:1px solid #dee2e6}
.navbar-brand img{display:block}
.nav{display:flex;flex-wrap:wrap;padding:0;margin:0;list-style:none}.nav-pills{flex-direction:column}
.nav-link{display:block;padding:.3rem .75rem;border-radius:.25rem}
.nav-tabs{display:flex;list-style:none;padding:0;margin:0 0 .5rem;border-bottom:1px solid #dee2e6}
.nav-tabs .nav-link{border:1px solid transparent;border-radius:.25rem .25rem 0 0}
.nav-tabs .nav-link.active{border-color:#dee2e6 #dee2e6 #fff;color:#495057;background:#fff}
.tab-content>.tab-pane{display:block;margin-bottom:1.5rem}
.breadcrumb{display:flex;flex-wrap:wrap;list-style:none;padding:.5rem 1rem;margin:0;background:#e9ecef;
 border-radius:.25rem}
.breadcrumb-item+.breadcrumb-item::before{content:"/";padding:0 .5rem;color:#6c757d}
.bg-light{background:#f8f9fa!important}
.alert{position:relative;padding:.6rem 1rem;margin-bottom:1rem;border:1px solid transparent;border-radius:.25rem}
.alert-secondary{color:#383d41;background:#e2e3e5;border-color:#d6d8db}
.alert-info{color:#0c5460;background:#d1ecf1;border-color:#bee5eb}
.card{display:flex;flex-direction:column;background:#fff;border:1px solid rgba(0,0,0,.125);border-radius:.25rem}
.card-header{padding:.6rem 1rem;background:rgba(0,0,0,.03);border-bottom:1px solid rgba(0,0,0,.125)}
.card-body{flex:1 1 auto;padding:1rem}.card-text:last-child{margin-bottom:0}
.badge{display:inline-block;padding:.25em .45em;font-size:80%;font-weight:600;line-height:1;border-radius:.25rem;
 white-space:nowrap}
.badge-secondary{color:#fff;background:#6c757d}.rounded{border-radius:.25rem!important}
.table{width:100%;margin-bottom:1rem;border-collapse:collapse}
.table-responsive{display:block;width:100%;overflow-x:auto}
table th,table td{padding:.5rem .6rem;vertical-align:top;border-top:1px solid #dee2e6;text-align:left}
table thead th{vertical-align:bottom;border-bottom:2px solid #dee2e6}.table-sm th,.table-sm td{padding:.3rem .45rem}
.ge-index-page-validation-results-table,.ge-index-page-expectation_suites-table{width:100%;border-collapse:collapse}
.btn{display:inline-block;padding:.375rem .75rem;border:1px solid transparent;border-radius:.25rem;cursor:pointer}
.btn-primary{color:#fff;background:#0b63ce}.btn-secondary{color:#fff;background:#6c757d}
.text-success{color:#198754!important}.text-danger{color:#c62828!important}.text-warning{color:#b8860b!important}
.fas{font-style:normal;font-weight:700}.fa-check-circle::before{content:"\\2714"}.fa-times::before{content:"\\2716"}
.fa-exclamation-triangle::before{content:"\\26A0"}.fa-question-circle::before{content:"?"}
.fa-comment::before{content:"\\2026"}
.collapse:not(:target){display:none}
.card:has([data-toggle="buttons"]),.ge-walkthrough-modal,[onclick^="clearTableFilters"]{display:none!important}
@media (prefers-color-scheme:dark){.table{color:#212529!important;background:#fff}
 .bg-light{background:#f8f9fa!important}
 .navbar-brand a img{visibility:visible}footer{background:#fff}}
"""


def offline_page(page: str, tables: dict[str, tuple[list[dict], list[dict]]] | None = None) -> str:
    """A page GX rendered, made to need nothing from outside the site folder. `tables`: the bootstrap
    tables GX would fill in by script, by table id: their columns and rendered rows."""
    page = _REMOTE_LINK.sub("", page)
    page = _SCRIPT.sub("", page)
    page = _REMOTE_URL.sub("none", page)
    match = _LOGO.search(page)
    if match:
        site_root = posixpath.dirname(match.group(2)) if match.group(2) != "#" else "."
        page = _LOGO.sub(rf"\g<1>\g<2>\g<3>{site_root}/static/images/\g<4>", page, count=1)
        page = _FAVICON.sub(f'href="{site_root}/static/images/favicon.ico"', page)  # GX's is one level short
    if tables:
        page = _EMPTY_TABLE.sub(lambda m: m.group(1) + _table_body(*tables[m.group(2)]) + m.group(3)
                                if m.group(2) in tables else m.group(0), page)
    return _HEAD_END.sub(lambda _: f"<style>{OFFLINE_STYLES}</style>\n</head>", page, count=1)


def _table_body(columns: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """What bootstrap-table would draw: a header, then one row per item, each cell linking the item's
    page. Cell values are GX's rendered HTML, as bootstrap-table would insert them."""
    head = "".join(f"<th>{html.escape(str(column.get('title', column['field'])))}</th>" for column in columns)
    lines = [f"<thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        link = html.escape(str(row.get("_table_row_link_path", "")), quote=True)
        cells = "".join(f'<td><a href="{link}">{row.get(column["field"], "")}</a></td>' for column in columns)
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</tbody>")
    return "\n".join(lines)


def _sorted_rows(rows: list[dict], columns: list[dict], options: dict[str, Any]) -> list[dict]:
    """In the order bootstrap-table would first show them: by the `sortName` column, on its sort key."""
    field = options.get("sortName")
    column = next((column for column in columns if column.get("field") == field), None)
    if column is None:
        return list(rows)
    key = column.get("sortName", field)
    return sorted(rows, key=lambda row: row.get(key, ""), reverse=options.get("sortOrder") == "desc")


class OfflinePageView(DefaultJinjaPageView):
    """Suite and validation pages (site_section_builders' view)."""

    def render(self, document, template=None, **kwargs) -> str:
        return offline_page(super().render(document, template, **kwargs))


class OfflineIndexPageView(DefaultJinjaIndexPageView):
    """The index (site_index_builder's view): its tables written out as rows."""

    def render(self, document, template=None, **kwargs) -> str:
        self._tables: dict[str, tuple[list[dict], list[dict]]] = {}
        return offline_page(super().render(document, template, **kwargs), self._tables)

    @pass_context
    def render_bootstrap_table_data(self, context, table_data, index=None, content_block_id=None):
        rows = super().render_bootstrap_table_data(context, table_data, index, content_block_id)
        columns = list(context["table_columns"])
        options = context.get("table_options") or {}
        self._tables[context["table_id"]] = (columns, _sorted_rows(rows, columns, options))
        return rows


def _view(name: str) -> dict[str, str]:
    return {"module_name": __name__, "class_name": name}


# The project's local site, as GX's default has it, but rendered by the views above and without the
# how-to buttons (they link GX's online guides).
LOCAL_SITE = "local_site"
LOCAL_SITE_CONFIG: dict[str, Any] = {
    "class_name": "SiteBuilder",
    "show_how_to_buttons": False,
    "store_backend": {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": f"uncommitted/data_docs/{LOCAL_SITE}/",
    },
    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": _view("OfflineIndexPageView")},
    "site_section_builders": {
        section: {"view": _view("OfflinePageView")} for section in ("expectations", "validations", "profiling")
    },
}
