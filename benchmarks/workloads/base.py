"""What a benchmark workload is: one constraint plus a valid and an invalid example text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WorkloadKind(StrEnum):
    """The constraint language a workload is written in; each engine declares the kinds it supports."""

    REGEX = "regex"
    LARK = "lark"
    GBNF = "gbnf"
    JSON_SCHEMA = "json_schema"


@dataclass(frozen=True)
class Workload:
    """One constraint and two example outputs, identical for every engine.

    ``valid_text`` must be accepted token by token with EOS allowed at the end; ``invalid_text``
    must be refused at some token (or have EOS refused at its end).  Both are tokenized
    canonically by the benchmark's tokenizer, without special tokens.
    """

    name: str  # short id, unique within its suite: "email"
    kind: WorkloadKind
    source: str  # the regex / grammar text / JSON Schema text
    valid_text: str
    invalid_text: str
    description: str = ""

    @property
    def label(self) -> str:
        """Row label in result tables: ``"regex: email"``."""
        return f"{self.kind.value}: {self.name}"
