"""Typed errors for grammars, derived from `automask.errors` so callers catch them as usual.

All carry the grammar source and a 0-based offset, so ``line``/``column`` (1-based) point
at the offending definition or use.
"""

from __future__ import annotations

from automask.errors import EmptyLanguage, GrammarSyntaxError


class GrammarDefinitionError(GrammarSyntaxError):
    """A grammar that parses but is not well formed (base class of the errors below)."""


class UndefinedSymbolError(GrammarDefinitionError):
    """A rule uses a nonterminal or terminal that no rule or terminal defines."""

    def __init__(self, name: str, source: str = "", position: int | None = None, used_in: str = ""):
        self.name = name
        where = f" (used in rule {used_in!r})" if used_in else ""
        super().__init__(f"undefined symbol {name!r}{where}", source, position)


class UnproductiveRuleError(GrammarDefinitionError):
    """A reachable nonterminal that derives no finite string (e.g. ``a: a "x"``)."""

    def __init__(self, name: str, source: str = "", position: int | None = None):
        self.name = name
        super().__init__(f"rule {name!r} derives no finite string (it is unproductive)", source, position)


class EmptyGrammarError(GrammarDefinitionError, EmptyLanguage):
    """The start symbol derives no string at all, so generation could never finish."""

    def __init__(self, start: str, source: str = "", position: int | None = None):
        self.name = start
        super().__init__(
            f"start symbol {start!r} derives no string: the grammar's language is empty", source, position
        )
