"""The Beam edge of `prepare`: the only part of `pipeline/` that imports `apache_beam`.

Read it top to bottom: `prepare.py` (the driver: checks a `PrepareRequest`, fixes the `OutputPlan` of
`layout.py`, runs the pipeline), `corpus.py` (`PrepareCorpus`, the whole graph in a few labelled steps),
`stages.py` (the two passes over each input file), `dedup.py` (corpus-wide duplicate decisions from
keys), `shard_writer.py` (a file's shards as its rows arrive), `publish.py` (staging to final names;
summary, report and manifest at the end), and the
I/O helpers `files.py`, `spill.py` and `progress.py`.
"""
