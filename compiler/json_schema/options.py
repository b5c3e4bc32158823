"""Options of the JSON-Schema front-end: whitespace policy, strictness, leniency, nesting bound.

`JsonSchemaOptions` is an immutable bundle that every keyword module reads; nothing else
carries configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Whitespace = Literal["flexible", "compact"]


@dataclass(frozen=True)
class JsonSchemaOptions:
    """How a schema is turned into a regular language of JSON texts.

    - ``whitespace``: ``"flexible"`` accepts JSON whitespace (space, tab, newline, carriage
      return) wherever JSON allows it *inside* a value -- after ``{ [ , :`` and before
      ``} ] , :`` -- so ``json.dumps`` output (``", "``, ``": "``) and pretty-printed output
      (newline + indent) both match; ``"compact"`` accepts none.  Never before or after the
      top-level value.
    - ``max_whitespace``: the most consecutive whitespace characters in one place
      (flexible mode), so a model cannot run away producing blanks.  16 allows an
      indentation of 4 spaces at nesting depth 3.
    - ``strict``: OpenAI structured-output semantics: every object behaves as if
      ``additionalProperties: false`` and every listed property is required.
    - ``lenient``: unsupported keywords are ignored (with one `warnings.warn` listing them)
      instead of raising `UnsupportedFeature`.  The language then accepts *more* than the
      schema allows -- only use it when that is acceptable.
    - ``max_nesting``: how deep a value the regular (DFA) back-end expands where the schema
      allows arbitrary JSON (``additionalProperties: true``, ``items: {}``, untyped
      schemas) and how many times a recursive ``$ref`` is unrolled.  Deeper values are
      refused -- an honest *under*-approximation (never accepts invalid JSON).  The
      context-free back-end (`to_grammar`) is exact at any depth and ignores it.
    """

    whitespace: Whitespace = "flexible"
    max_whitespace: int = 16
    strict: bool = False
    lenient: bool = False
    max_nesting: int = 3

    def __post_init__(self) -> None:
        if self.whitespace not in ("flexible", "compact"):
            raise ValueError(f"whitespace must be 'flexible' or 'compact', not {self.whitespace!r}")
        if self.max_whitespace < 0:
            raise ValueError("max_whitespace must be >= 0")
        if self.max_nesting < 0:
            raise ValueError("max_nesting must be >= 0")


DEFAULT_OPTIONS = JsonSchemaOptions()
