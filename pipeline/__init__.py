"""The `prepare` pipeline: pure stage functions, and the Beam edge (`pipeline/beam/`) that wires them.

The stages in data-flow order (DESIGN.md), and for each fast path the plain version to read first. Each
fast module's docstring names its twin and the test that pins the two together.

| stage | module | read first (the plain version) |
|---|---|---|
| read, parse | `readers` | - |
| normalise | `clean` (`steps_needed`, bit tables) | `clean.normalize_text`, i.e. `_normalize(..., ALL_STEPS)` |
| line rules, PII | `clean_rules` | - |
| document filters | `quality` (`_JoinedTexts`, batch arrays) | the rule list in `quality_reasons` and `CleanConfig` |
| deduplicate | `dedup` (prefix rounds, buckets) | signatures, band keys, `bucket_links`, `Components` on one machine: `find_duplicates` in tests/pipeline/test_dedup_near.py |
| sentences | `sentences` | `test_sentences_end_where_the_rule_as_a_regex_ends_them` |
| words (WWM) | `segment_jieba.FastJiebaSegmenter`, `pkuseg_inference` | `segment_jieba.JiebaReferenceSegmenter`; `pkuseg.pkuseg().cut` |
| tokens | `tokenize` | `transformers.BertTokenizer` |
| one batch as one text | `annotate` | annotating each sentence alone (tests/pipeline/test_annotate.py) |
| SOP rows | `sop.plan_batch` | `sop.plan_rows` |
| per-document randomness | `seeding.DocumentStreams` | `np.random.default_rng([seed, key])` (`rows.document_rng`) |
| training rows | `rows.build_rows` | its docstring |
"""
