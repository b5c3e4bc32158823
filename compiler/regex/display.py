"""A regex AST shown as Python ``re`` source, for messages and ``repr`` only.

Why separate from compilation: front-ends that build ASTs directly (the JSON-Schema lowering)
have no source text, and rendering every terminal eagerly cost about 5% of a schema's compile.
`automask.compiler.grammar.ir.TerminalDef.source_text` calls this on demand.
"""

from __future__ import annotations

from automask.compiler.regex.ast import Alternation, CharSet, Concat, Empty, Product, RegexNode, Repeat


def display_regex(node: RegexNode, max_chars: int = 120) -> str:
    """Python ``re`` source for ``node``, cut after about ``max_chars`` characters with an
    ellipsis (for messages only, compilation uses the AST; leaves can be 10^4 nodes)."""
    parts: list[str] = []
    budget = [max_chars]

    def emit(text: str) -> None:
        parts.append(text)
        budget[0] -= len(text)
        if budget[0] < 0:
            raise _SourceCut

    try:
        _source(node, emit)
    except _SourceCut:
        return "".join(parts)[:max_chars] + "..."
    return "".join(parts)


class _SourceCut(Exception):
    """`display_regex` ran out of room."""


def _source(node: RegexNode, emit) -> None:
    if isinstance(node, Empty):
        return
    if isinstance(node, CharSet):
        if not node.ranges:
            emit(r"[^\s\S]")
        elif len(node.ranges) == 1 and node.ranges[0][0] == node.ranges[0][1]:
            emit(_escape(node.ranges[0][0], outside=True))
        else:
            emit("[")
            for a, b in node.ranges:
                emit(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}")
            emit("]")
        return
    if isinstance(node, Concat) and type(node) is not Concat:  # a front-end's tagged node
        emit(f"<{node!r}>")
        return
    if isinstance(node, Product):
        emit("(?=" if node.mode == "intersection" else "(?!")
        _source(node.right, emit)
        emit(")")
        _source(node.left, emit)
        return
    if isinstance(node, Concat):
        for item in node.items:
            if isinstance(item, Alternation):
                emit("(?:")
                _source(item, emit)
                emit(")")
            else:
                _source(item, emit)
        return
    if isinstance(node, Alternation):
        for index, option in enumerate(node.options):
            if index:
                emit("|")
            _source(option, emit)
        return
    assert isinstance(node, Repeat)
    count = (
        "*" if (node.min, node.max) == (0, None) else
        "+" if (node.min, node.max) == (1, None) else
        "?" if (node.min, node.max) == (0, 1) else
        f"{{{node.min},{'' if node.max is None else node.max}}}"
    )  # fmt: skip
    emit("(?:")
    _source(node.item, emit)
    emit(f"){count}")


def _escape(code: int, outside: bool = False) -> str:
    char = chr(code)
    if char.isalnum() or (outside and char in " \"',:;!@#%&=<>`~") or (not outside and char in " \"'.,:;"):
        return char
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
