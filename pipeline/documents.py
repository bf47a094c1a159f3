"""Plain records that flow between stages; each is cheap to pickle for Beam."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    doc_id: str
    source: str  # file the document came from, for provenance in the ledger
    title: str
    text: str


@dataclass(frozen=True)
class CleanDocument:
    """A document that passed cleaning and filtering: what the spill keeps and the shard pass reads."""

    doc_id: str
    source: str
    text: str


@dataclass(frozen=True)
class Rejection:
    """One ledger line: why a record did not reach the shards, and where it came from."""

    doc_id: str
    source: str
    reason: str
    detail: str = ""
    text: str = ""  # the document itself, only with `--ledger-text` (audits of what the filters drop)

    def to_dict(self) -> dict[str, str]:
        line = {"doc_id": self.doc_id, "source": self.source, "reason": self.reason, "detail": self.detail}
        if self.text:
            line["text"] = self.text
        return line
