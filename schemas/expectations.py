"""The Great Expectations suites that encode the shard contract, versioned with the shard schema.

Three suites, one per grain the contract speaks about:
- rows: every row of one shard, through the scalar columns of `schemas.shard_checks`;
- shard files: one row per shard file (manifest entries and files found on disk), see `output_checks`;
- run: one row for the whole output (vocab, document accounting, SOP balance).
Every expectation carries `meta["check"]`, a stable name that the report, the tests and a reader of the
Data Docs use to say which rule broke, independent of GX's own expectation ids.
"""
from __future__ import annotations

from schemas.gx_offline import gx  # first: switches analytics off before GX loads

# isort: split

from great_expectations.expectations import Expectation

from schemas import output_checks as out
from schemas import shard
from schemas import shard_checks as rows
from schemas.contract import ShardContract

# GX's file store turns dots in a suite name into folders: "1.0" is spelt "1_0".
_VERSION = shard.SCHEMA_VERSION.replace(".", "_")
ROWS_SUITE = f"erlangshen_shard_rows_v{_VERSION}"
FILES_SUITE = f"erlangshen_shard_files_v{_VERSION}"
RUN_SUITE = f"erlangshen_run_v{_VERSION}"
CHECK = "check"


def _named(check: str, expectation: Expectation) -> Expectation:
    expectation.meta = {CHECK: check}
    return expectation


def _none_in_row(check: str, column: str) -> Expectation:
    return _named(check, gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=[0]))


def _all_true(check: str, column: str) -> Expectation:
    return _named(check, gx.expectations.ExpectColumnValuesToBeInSet(column=column, value_set=[True]))


def _matches(check: str, declared: str, found: str) -> Expectation:
    # A file that is absent or unreadable has no found value: its own check fails, not this one too.
    return _named(
        check,
        gx.expectations.ExpectColumnPairValuesToBeEqual(
            column_A=declared, column_B=found, ignore_row_if="either_value_is_missing"
        ),
    )


def rows_suite(contract: ShardContract) -> gx.ExpectationSuite:
    """Row rules of the packed layout (schemas/shard.py): whole examples `[CLS] A [SEP] B [SEP]` (or
    `[CLS] A [SEP]`) that tile the row, `len_a` = tokens of an example's `[CLS] A [SEP]`, entity spans
    inside one segment of one example. Example rules count the row's examples that break them."""
    E = gx.expectations
    c = contract
    expectations = [
        _named("rows_present", E.ExpectTableRowCountToBeBetween(min_value=1)),
        _named(
            "seq_len_in_range",
            E.ExpectColumnValuesToBeBetween(column=rows.SEQ_LEN, min_value=3, max_value=c.max_seq_len),
        ),
        _named("row_has_examples", E.ExpectColumnValuesToBeBetween(column=rows.EXAMPLES, min_value=1)),
        _named(
            "example_len_sums_to_row",
            E.ExpectColumnPairValuesToBeEqual(column_A=rows.EXAMPLE_TOKENS, column_B=rows.SEQ_LEN),
        ),
        _none_in_row("per_example_columns_aligned", rows.MISALIGNED_EXAMPLE_COLUMNS),
        _named(
            "ids_below_vocab_size",
            E.ExpectColumnValuesToBeBetween(column=rows.MAX_ID, max_value=c.vocab_size - 1),
        ),
        _none_in_row("examples_start_with_cls", rows.NOT_STARTING_WITH_CLS),
        _none_in_row("one_cls_per_example", rows.NOT_ONE_CLS),
        _none_in_row("segment_a_not_empty", rows.SHORT_SEGMENT_A),
        _none_in_row("sep_at_len_a_minus_1", rows.NO_SEP_AT_LEN_A),
        _none_in_row("examples_end_with_sep", rows.NOT_ENDING_WITH_SEP),
        _none_in_row("one_sep_in_single_segment", rows.SINGLE_NOT_ONE_SEP),
        _none_in_row("two_seps_in_pair", rows.PAIR_NOT_TWO_SEPS),
        _none_in_row("pair_has_segment_b", rows.PAIR_WITHOUT_B),
        _none_in_row("no_pad_inside", rows.PAD_COUNT),
        _none_in_row("no_mask_inside", rows.MASK_COUNT),
        _named(
            "word_start_aligned",
            E.ExpectColumnPairValuesToBeEqual(column_A=rows.WORD_START_LEN, column_B=rows.SEQ_LEN),
        ),
        _none_in_row("specials_start_words", rows.SPECIALS_NOT_WORD_START),
        _named(
            "entity_end_aligned",
            E.ExpectColumnPairValuesToBeEqual(column_A=rows.ENTITY_END_LEN, column_B=rows.ENTITY_START_LEN),
        ),
        _named(
            "entity_type_aligned",
            E.ExpectColumnPairValuesToBeEqual(column_A=rows.ENTITY_TYPE_LEN, column_B=rows.ENTITY_START_LEN),
        ),
        _none_in_row("entity_spans_not_empty", rows.EMPTY_SPANS),
        _none_in_row("entity_spans_sorted", rows.UNSORTED_SPANS),
        _none_in_row("entity_spans_disjoint", rows.OVERLAPPING_SPANS),
        _none_in_row("entity_spans_inside_one_segment", rows.SPANS_OUTSIDE_SEGMENT),
        _none_in_row("entity_type_in_table", rows.UNKNOWN_ENTITY_TYPES),
        _none_in_row("sop_label_valid", rows.BAD_SOP_LABELS),
        _none_in_row("doc_id_present", rows.NULL_DOC_IDS),
    ]
    return gx.ExpectationSuite(name=ROWS_SUITE, expectations=expectations)


def files_suite() -> gx.ExpectationSuite:
    """What the manifest promises about each shard file, checked against the file itself."""
    expectations = [
        _named("shards_present", gx.expectations.ExpectTableRowCountToBeBetween(min_value=1)),
        _all_true("shard_listed_in_manifest", out.LISTED),
        _all_true("shard_file_present", out.PRESENT),
        _all_true("shard_readable", out.READABLE),
        _all_true("shard_schema", out.SCHEMA_MATCHES),
        _matches("shard_sha256", out.DECLARED_SHA256, out.FOUND_SHA256),
        _matches("shard_rows", out.DECLARED_ROWS, out.FOUND_ROWS),
        _matches("shard_tokens", out.DECLARED_TOKENS, out.FOUND_TOKENS),
    ]
    return gx.ExpectationSuite(name=FILES_SUITE, expectations=expectations)


def run_suite(max_reject_rate: float, swapped_share: tuple[float, float]) -> gx.ExpectationSuite:
    """Output-wide rules: the vocab the ids index, the document accounting and the SOP coin."""
    E = gx.expectations
    expectations = [
        _named(
            "vocab_sha256",
            E.ExpectColumnPairValuesToBeEqual(
                column_A=out.DECLARED_VOCAB_SHA256, column_B=out.FOUND_VOCAB_SHA256
            ),
        ),
        _named(
            "vocab_size",
            E.ExpectColumnPairValuesToBeEqual(
                column_A=out.DECLARED_VOCAB_SIZE, column_B=out.FOUND_VOCAB_SIZE
            ),
        ),
        _all_true("special_tokens_in_vocab", out.SPECIAL_TOKENS_MATCH_VOCAB),
        _none_in_row("documents_accounted", out.UNACCOUNTED_DOCUMENTS),
        _named(
            "reject_rate_within_bound",
            E.ExpectColumnValuesToBeBetween(column=out.REJECT_RATE, min_value=0.0, max_value=max_reject_rate),
        ),
        _named(
            "sop_balance",
            E.ExpectColumnValuesToBeBetween(
                column=out.SWAPPED_SHARE, min_value=swapped_share[0], max_value=swapped_share[1]
            ),
        ),
    ]
    return gx.ExpectationSuite(name=RUN_SUITE, expectations=expectations)
