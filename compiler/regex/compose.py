"""Counted repeats and concatenations composed at the DFA level (no n-fold NFA copies).

``x{m,n}`` with a large ``n`` (``maxLength: 1024`` gives ``(char|escape){0,1024}``) unrolls
to ``n`` NFA copies, and the subset construction then walks all of them.  When ``x`` is a
*prefix code* -- no word of ``x`` is a proper prefix of another, and ``x`` has no empty
word -- its minimal DFA ``D`` has exactly one accepting state ``f`` with no outgoing edge,
and ``x{m,n}`` is simply ``n`` copies of ``D`` chained: copy ``i``'s edges into ``f`` enter
copy ``i+1``'s start instead, and copy ``i``'s start accepts iff ``i >= m``.  This needs
``D``'s start to have no incoming edge (else re-entering it mid-word would accept).
``x{m,}`` is ``m + 1`` copies whose last one loops back to its own start.

A concatenation ``A . B`` of DFAs is composed without subset construction when, at every
accepting state of ``A``, the bytes ``A`` may continue with are disjoint from the bytes
``B`` may start with: each accepting state of ``A`` then gets ``B``'s start edges (and
accepts iff ``B`` accepts the empty word), so every word has one path.

The composed DFA is then trimmed, minimised and canonically numbered like any other, so
the result is identical to the general path's.  Whenever a condition fails, or the
estimated NFA / composed DFA size is past ``CompileLimits``, `compose_dfa` returns ``None``
and the caller takes the general path (which raises the usual limit errors).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.limits import CompileLimits
from automask.compiler.regex.ast import Alternation, CharSet, Concat, Empty, Product, RegexNode, Repeat
from automask.compiler.regex.finite_strings import small_finite_language

MIN_COMPOSED_REPEAT = 8
"""Only repeats with at least this upper bound are worth composing."""

CompileNode = Callable[[RegexNode, CompileLimits], ByteDFA]


def worth_composing(node: RegexNode) -> bool:
    """Whether to try composition (a failed try costs the items' compile time twice).

    Yes for a large counted repeat (possibly an item of a top-level concatenation), and for
    two concatenations that are sure or nearly sure to compose:

    - every item but the last is a small finite prefix code -- a JSON key spelled with its
      ``\\uXXXX`` alternatives (``"``, one small alternation per character, ``"``);
    - a *delimited* body: the first and last items are the same ASCII character, which no
      middle item contains (a JSON string ``"(char|escape)*"``), so both joins compose.
    """
    items = node.items if isinstance(node, Concat) else (node,)
    if any(_large_repeat(item) for item in items):
        return True
    if not isinstance(node, Concat):
        return False
    if _delimited(node):
        return True
    for item in node.items[:-1]:
        words = small_finite_language(item)
        if words is None or not _prefix_free(words):
            return False
    return True


def _large_repeat(node: RegexNode) -> bool:
    return isinstance(node, Repeat) and node.max is not None and node.max >= MIN_COMPOSED_REPEAT


def _delimited(node: Concat) -> bool:
    first, last = node.items[0], node.items[-1]
    if not (isinstance(first, CharSet) and first == last and len(first.ranges) == 1):
        return False
    low, high = first.ranges[0]
    return low == high < 0x80 and not any(_mentions(item, low) for item in node.items[1:-1])


def _prefix_free(words: set[bytes]) -> bool:
    """No word is a proper prefix of another (nor empty): sorted neighbours suffice."""
    ordered = sorted(words)
    return (
        bool(ordered)
        and ordered[0] != b""
        and not any(later.startswith(earlier) for earlier, later in zip(ordered, ordered[1:], strict=False))
    )


def _mentions(node: RegexNode, code: int) -> bool:
    """Whether any char set in ``node`` contains ``code``."""
    if isinstance(node, CharSet):
        return any(low <= code <= high for low, high in node.ranges)
    mentions = getattr(node, "mentions", None)
    if mentions is not None:  # a tagged node that answers without a plain regex (`Multiples`)
        return mentions(code)
    if isinstance(node, Concat):
        return any(_mentions(item, code) for item in node.items)
    if isinstance(node, Alternation):
        return any(_mentions(option, code) for option in node.options)
    if isinstance(node, Repeat):
        return _mentions(node.item, code)
    if isinstance(node, Product):
        inside = _mentions(node.left, code)
        return inside and _mentions(node.right, code) if node.mode == "intersection" else inside
    return False


def compose_dfa(node: RegexNode, limits: CompileLimits, compile_node: CompileNode) -> ByteDFA | None:
    """A (not yet minimised) DFA for ``node`` built by composition, or None if not applicable.

    ``compile_node`` compiles the pieces (the repeat items, the other concatenation items).
    """
    if nfa_size_estimate(node) > limits.max_nfa_states:
        return None
    items = node.items if isinstance(node, Concat) else (node,)
    result: ByteDFA | None = None
    for item in items:
        if isinstance(item, Repeat) and (item.max is None or _large_repeat(item)):
            piece = _repeat_chain(compile_node(item.item, limits), item.min, item.max, limits)
        else:
            piece = compile_node(item, limits)
        if piece is None:
            return None
        result = piece if result is None else _concatenate(result, piece, limits)
        if result is None:
            return None
    return result


def _repeat_chain(item: ByteDFA, minimum: int, maximum: int | None, limits: CompileLimits) -> ByteDFA | None:
    """``item{minimum,maximum}`` as chained copies, if ``item`` is a prefix code (see module doc).

    Unbounded (``maximum=None``): ``minimum + 1`` copies, the last one looping -- its edges
    into ``final`` return to its own (accepting) start.
    """
    table = item.transitions
    accepting = np.flatnonzero(item.accepting)
    if accepting.shape[0] != 1 or item.accepting[item.start] or (table == item.start).any():
        return None
    final = int(accepting[0])
    if (table[final] != DEAD).any():
        return None
    per_copy = item.num_states - 1
    loops = maximum is None
    copies_count = minimum + 1 if loops else maximum
    total = copies_count * per_copy + (0 if loops else 1)
    if total > limits.max_dfa_states:
        return None
    # Local ids: the start first, then the other non-final states; ``final`` maps to
    # ``per_copy``, i.e. the next copy's start (copy i + 1 begins at (i + 1) * per_copy).
    others = [state for state in range(item.num_states) if state not in (item.start, final)]
    local_states = np.array([item.start, *others], dtype=np.intp)
    local_id = np.full(item.num_states + 1, DEAD, dtype=np.int64)  # index -1 (DEAD) -> DEAD
    local_id[local_states] = np.arange(per_copy)
    local_id[final] = per_copy
    local = local_id[table[local_states]]  # [per_copy, 256]
    offsets = (np.arange(copies_count, dtype=np.int64) * per_copy)[:, None, None]
    copies = np.where(local[None] == DEAD, DEAD, local[None] + offsets)
    transitions = np.full((total, 256), DEAD, dtype=np.int32)
    transitions[: copies_count * per_copy] = copies.reshape(-1, 256)
    accepting_states = np.zeros(total, dtype=bool)
    if loops:
        last = transitions[minimum * per_copy :]
        last[last == total] = minimum * per_copy  # the loop: back to the last copy's start
        accepting_states[minimum * per_copy] = True
    else:
        accepting_states[np.arange(minimum, maximum + 1) * per_copy] = True
    return ByteDFA(transitions, accepting_states, 0)


def _concatenate(left: ByteDFA, right: ByteDFA, limits: CompileLimits) -> ByteDFA | None:
    """``left . right`` if every accepting state of ``left`` cannot continue with a first byte of ``right``."""
    first_bytes = right.transitions[right.start] != DEAD
    finals = np.flatnonzero(left.accepting)
    if (left.transitions[finals][:, first_bytes] != DEAD).any():
        return None
    total = left.num_states + right.num_states
    if total > limits.max_dfa_states:
        return None
    offset = left.num_states
    shifted = np.where(right.transitions == DEAD, DEAD, right.transitions + offset)
    transitions = np.concatenate([left.transitions, shifted]).astype(np.int32)
    transitions[finals[:, None], np.flatnonzero(first_bytes)[None, :]] = shifted[right.start, first_bytes]
    accepting = np.concatenate([left.accepting, right.accepting])
    accepting[finals] = bool(right.accepting[right.start])
    return ByteDFA(transitions, accepting, left.start)


def nfa_size_estimate(node: RegexNode) -> int:
    """Roughly the Thompson NFA's state count (`to_nfa`), to keep ``max_nfa_states`` honest.

    Nodes built as automata (tagged strings, intersections) count their operands' size, or
    a flat 64 for a tagged node (its regex is never built for this)."""
    if isinstance(node, Product):
        return nfa_size_estimate(node.left) + nfa_size_estimate(node.right)
    if hasattr(node, "build_dfa"):
        return 64 * max(1, len(getattr(node, "names", ())))
    if isinstance(node, CharSet):
        return len(node.ranges) + 1
    if isinstance(node, Concat):
        return sum(nfa_size_estimate(item) for item in node.items) + len(node.items) - 1
    if isinstance(node, Alternation):
        return sum(nfa_size_estimate(option) for option in node.options)
    if isinstance(node, Repeat):
        copies = node.max if node.max is not None else node.min + 1
        return copies * (nfa_size_estimate(node.item) + 1) + 1
    if isinstance(node, Empty):
        return 0
    raise TypeError(f"not a regex AST node: {node!r}")  # pragma: no cover - defensive
