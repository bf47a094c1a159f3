"""Coders for the batches of documents that `prepare`'s stages hand each other.

Beam encodes an element where it crosses a stage boundary, and to estimate each PCollection's mean
element size (a metric) it also sizes a sample of every operation's output, fused or not: the first
ten elements, then about ten per N seen, by encoding them. A stage sees a few dozen batches, so nearly
every batch was sized, and Beam's default coder pickles a list's records one call each: 12 pickles per
document over a run, a third of a second on the 5.9 MB WuDao sample. These coders write a batch as its
columns in one pickle, and size a batch from its texts' lengths without encoding it.

A PCollection gets one by its element type: `.with_output_types(CleanBatch)` and the like, and its
elements are of that type (lists, to the stage functions), so Beam's runtime type check agrees.
"""
from __future__ import annotations

import pickle
from dataclasses import fields
from operator import attrgetter

import apache_beam as beam

from pipeline.documents import Document
from pipeline.examples import CleanDocument

_TEXT = attrgetter("text")


class DocumentBatch(list):
    """A list of `Document`s, as one element."""


class CleanBatch(list):
    """A list of `CleanDocument`s, as one element."""


class _RecordColumnsCoder(beam.coders.Coder):
    """A list of one dataclass's records, as one pickle of a tuple of columns (a list per field)."""

    record: type
    batch: type

    def encode(self, records: list) -> bytes:
        columns = tuple(list(map(attrgetter(field.name), records)) for field in fields(self.record))
        return pickle.dumps(columns, pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> list:
        return self.batch(map(self.record, *pickle.loads(encoded)))

    def estimate_size(self, records: list) -> int:
        """The texts' UTF-8 size if they are CJK (3 bytes a character): a metric's estimate, for
        the price of a length per record."""
        return 3 * sum(map(len, map(_TEXT, records)))

    def is_deterministic(self) -> bool:
        return False  # pickle; these batches are never keys

    def to_type_hint(self):
        return self.batch


class DocumentBatchCoder(_RecordColumnsCoder):
    record, batch = Document, DocumentBatch


class CleanBatchCoder(_RecordColumnsCoder):
    record, batch = CleanDocument, CleanBatch


beam.coders.registry.register_coder(DocumentBatch, DocumentBatchCoder)
beam.coders.registry.register_coder(CleanBatch, CleanBatchCoder)
