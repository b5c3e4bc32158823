"""Keywords automask writes into the schemas it derives (complements of ``pattern``, of string
``enum`` values and of ``additionalProperties: false``), for the constraints no JSON Schema
keyword states positively.

No vocabulary defines them and the ``$automask:`` prefix is not a JSON Schema keyword, so a
schema that spells one itself is refused (`refuse_internal_keywords`) rather than read as ours.
"""

from __future__ import annotations

from automask.errors import UnsupportedFeature

NOT_PATTERNS = "$automask:notPatterns"
"""A list of patterns a string must *not* match (the complement of ``pattern``)."""

NOT_STRINGS = "$automask:notStrings"
"""A list of strings a string must not equal (the complement of a string ``enum``/``const``)."""

SOME_KEY_NOT_IN = "$automask:someKeyNotIn"
"""A list of name lists: for each, the object has at least one member whose key is not in it
(the complement of ``additionalProperties: false`` next to those ``properties``)."""

INTERNAL_KEYWORDS = (NOT_PATTERNS, NOT_STRINGS, SOME_KEY_NOT_IN)


def refuse_internal_keywords(text: str) -> None:
    """Refuse a schema (its JSON text) that spells an internal keyword itself."""
    for keyword in INTERNAL_KEYWORDS:
        if keyword in text:
            raise UnsupportedFeature(f"the keyword {keyword!r}, reserved for automask's own use", "#")
