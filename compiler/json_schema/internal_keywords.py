"""Keywords automask writes into the schemas it derives (several ``pattern``s or ``contains`` at
once, the complements of ``pattern``, of exact ``format``s, of string ``enum`` values, of
``multipleOf`` and of object keywords), for the constraints no single JSON Schema keyword states.

No vocabulary defines them and the ``$automask:`` prefix is not a JSON Schema keyword, so a
schema that spells one itself is refused (`refuse_internal_keywords`) rather than read as ours.
"""

from __future__ import annotations

from automask.errors import UnsupportedFeature

ALSO_PATTERNS = "$automask:alsoPatterns"
"""A list of patterns a string must match besides ``pattern`` (``allOf`` of several patterns)."""

ALSO_CONTAINS = "$automask:alsoContains"
"""A list of schemas each matched by at least one element, besides ``contains`` (``allOf`` of
several ``contains``)."""

NOT_PATTERNS = "$automask:notPatterns"
"""A list of patterns a string must *not* match (the complement of ``pattern``)."""

NOT_FORMATS = "$automask:notFormats"
"""A list of format names a string must *not* be in (the complement of an exact ``format``,
`formats.EXACT_FORMATS`)."""

NOT_STRINGS = "$automask:notStrings"
"""A list of strings a string must not equal (the complement of a string ``enum``/``const``)."""

NOT_MULTIPLES = "$automask:notMultiples"
"""A list of steps a number must *not* be a multiple of (the complement of ``multipleOf``; with
step 1, of ``integer`` inside ``number``)."""

SOME_MEMBER = "$automask:someMember"
"""A list of requirements ``{"keys": K, "value": V}``: for each, the object has at least one
member whose key is a string ``K`` accepts and whose value ``V`` accepts (the complements of
``propertyNames``, ``patternProperties``, ``additionalProperties`` and of an object ``const``)."""


INTERNAL_KEYWORDS = (
    ALSO_PATTERNS,
    ALSO_CONTAINS,
    NOT_PATTERNS,
    NOT_FORMATS,
    NOT_STRINGS,
    NOT_MULTIPLES,
    SOME_MEMBER,
)


def refuse_internal_keywords(text: str) -> None:
    """Refuse a schema (its JSON text) that spells an internal keyword itself."""
    for keyword in INTERNAL_KEYWORDS:
        if keyword in text:
            raise UnsupportedFeature(f"the keyword {keyword!r}, reserved for automask's own use", "#")
