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
    start: np.ndarray  # (E,) int64: flat index into (B*S) of each example's first token, its [CLS]
    index_in_row: np.ndarray  # (E,) int64: 0 for a row's first example, 1 for the next, ...

    @classmethod
    def from_lengths(cls, example_len: np.ndarray, examples_per_row: np.ndarray, seq: int) -> "ExampleLayout":
        """`example_len` (E,): every example's tokens, row by row; `examples_per_row` (B,) sums to E."""
        lengths = np.asarray(example_len, dtype=np.int64)
        per_row = np.asarray(examples_per_row, dtype=np.int64)
        row = np.repeat(np.arange(per_row.size), per_row)
        first_of_row = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
        index_in_row = np.arange(lengths.size) - first_of_row[row]
        # Offset of each example in its row: the lengths before it in the row.
        before = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        offset = before - before[first_of_row][row] if lengths.size else before
        start = row * seq + offset
        of_token = np.full(per_row.size * seq, -1, dtype=np.int64)
        total = int(lengths.sum())
        within = np.arange(total) - np.repeat(before, lengths)
        of_token[np.repeat(start, lengths) + within] = np.repeat(np.arange(lengths.size), lengths)
        return cls(of_token=of_token, start=start, index_in_row=index_in_row)

    def positions(self) -> np.ndarray:
        """(B*S,) each token's position inside its example (0 at its [CLS]); 0 on padding."""
        flat = np.arange(self.of_token.size)
        real = self.of_token >= 0
        return np.where(real, flat - self.start[np.maximum(self.of_token, 0)], 0)

    def sequence_ids(self) -> np.ndarray:
        """(B*S,) each token's example within its row (what attention compares), -1 on padding."""
        return np.where(self.of_token >= 0, self.index_in_row[np.maximum(self.of_token, 0)], -1)
