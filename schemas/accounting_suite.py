"""The accounting suite: what the shards alone cannot show about an output (issue 24).

Every document read is in the shards or in the reject ledger, so the ledger's lines by reason must be
the manifest's rejected counts and the documents in the shards its kept count; summary.json (and the
report, its view) must say what the files say; and no path may lead outside the output directory,
where `validate` would vouch for a file that is not part of it. One row (`output_checks.accounting_table`)
holds one text per check, empty when the check holds.
"""
from __future__ import annotations

from schemas.gx_offline import gx  # first: switches analytics off before GX loads

# isort: split

from schemas import output_checks as out
from schemas import shard
from schemas.expectations import CHECK

ACCOUNTING_SUITE = f"erlangshen_accounting_v{shard.SCHEMA_VERSION.replace('.', '_')}"

# check name -> the accounting table's column that must be empty
CHECKS = {
    "paths_inside_output": out.PATHS_OUTSIDE,
    "ledger_files_match_inputs": out.LEDGER_FILES,
    "ledger_lines_well_formed": out.LEDGER_LINES,
    "ledger_matches_rejected": out.LEDGER_VS_REJECTED,
    "kept_matches_shards": out.KEPT_VS_SHARDS,
    "summary_matches_output": out.SUMMARY_VS_OUTPUT,
}


def accounting_suite() -> gx.ExpectationSuite:
    expectations = []
    for check, column in CHECKS.items():
        expectation = gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=[""])
        expectation.meta = {CHECK: check}
        expectations.append(expectation)
    return gx.ExpectationSuite(name=ACCOUNTING_SUITE, expectations=expectations)
