"""Where the examples of a padded (B, S) batch of packed rows sit.

A shard row (layout 3.0) holds whole SOP examples back to back; `example_len` lists their lengths in
row order. Everything the trainer derives per example comes from this one description: the masker's
units never leave an example and its draws count positions from the example's first token (so an
example is masked the same packed or alone), position ids and token types restart at each example,
attention stays inside it, and the SOP head reads its [CLS], the example's first token.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExampleLayout:
    of_token: np.ndarray  # (B*S,) int64: the batch-wide index of each token's example, -1 on padding
    position: np.ndarray  # (B*S,) int64: each token's position inside its example (0 at its [CLS]); 0 on padding
    sequence_ids: np.ndarray  # (B*S,) int64: each token's example within its row (what attention compares), -1 on padding
    start: np.ndarray  # (E,) int64: flat index into (B*S) of each example's first token, its [CLS]

    @classmethod
    def from_lengths(cls, example_len: np.ndarray, examples_per_row: np.ndarray, seq: int) -> "ExampleLayout":
        """`example_len` (E,): every example's tokens, row by row; `examples_per_row` (B,) sums to E."""
        lengths = np.asarray(example_len, dtype=np.int64)
        per_row = np.asarray(examples_per_row, dtype=np.int64)
        count = lengths.size
        row = np.repeat(np.arange(per_row.size), per_row)
        first_of_row = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
        # Tokens before each example in the batch, then in its row.
        before = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        offset = before - before[first_of_row[row]]
        start = row * seq + offset
        example = np.repeat(np.arange(count), lengths)
        position = np.arange(example.size) - np.repeat(before, lengths)
        flat = start[example] + position
        of_token = np.full(per_row.size * seq, -1, dtype=np.int64)
        of_token[flat] = example
        positions = np.zeros(per_row.size * seq, dtype=np.int64)
        positions[flat] = position
        sequence_ids = np.full(per_row.size * seq, -1, dtype=np.int64)
        sequence_ids[flat] = (np.arange(count) - first_of_row[row])[example]
        return cls(of_token=of_token, position=positions, sequence_ids=sequence_ids, start=start)
