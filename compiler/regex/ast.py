"""The regular-expression AST shared by every regular front-end.

Six node types, all immutable and over Unicode *code points* (not bytes):

- `CharSet`: one code point from a set, stored as sorted, disjoint, non-adjacent inclusive
  ``(first, last)`` ranges.  ``CharSet(())`` matches nothing (the empty language).
- `Concat`: the items one after another.
- `Alternation`: any one of the options.
- `Repeat`: ``item`` repeated ``min`` to ``max`` times (``max=None``: unbounded).
- `Empty`: the empty string.
- `Product`: an intersection or difference of two languages (built as a product of DFAs).

The regex parser, the JSON-Schema front-end and the grammar front-end all build these and
hand them to `automask.compiler.regex.ast_to_dfa`.  Surrogate code points (U+D800..U+DFFF)
may appear in a `CharSet` but are dropped when encoding to UTF-8, since no valid UTF-8
string contains them.  Build nodes with the helper constructors (`char_set`, `literal`,
`concat`, `alternation`, `repeat`), which normalise ranges and flatten nesting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_CODE_POINT = 0x10FFFF

Ranges = tuple[tuple[int, int], ...]


class _HashedOnce:
    """Base of the node types: a node's hash is computed once and kept.

    Why: nodes are hashed again and again (hash-consing in the front-ends, the per-vocabulary
    DFA cache keyed by regex), and a dataclass hash walks the whole subtree every time: on a
    sample of MaskBench schemas, hashing was an eighth of compile time under a profiler.
    The kept value is not a dataclass field, so it is neither compared nor pickled (an
    unpickled node computes it again in its own process).  Each node class restates
    ``__hash__ = _HashedOnce.__hash__``: a frozen dataclass otherwise writes its own.
    """

    __slots__ = ("_hash",)

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            value = hash(tuple(getattr(self, name) for name in self.__dataclass_fields__))  # type: ignore[attr-defined]
            object.__setattr__(self, "_hash", value)
            return value


@dataclass(frozen=True, slots=True)
class CharSet(_HashedOnce):
    ranges: Ranges

    __hash__ = _HashedOnce.__hash__


@dataclass(frozen=True, slots=True)
class Concat(_HashedOnce):
    items: tuple[RegexNode, ...]

    __hash__ = _HashedOnce.__hash__


class TaggedNode(Concat):
    """A front-end's leaf whose DFA is built directly (``build_dfa(limits)``, see
    `automask.compiler.regex.ast_to_dfa`): JSON key names, residue automata of numbers.

    A `Concat` subclass so that walkers which only combine nodes keep it whole (`concat`);
    its ``tag`` (with its class) determines its language, so equality, hashing, pickling and
    the grammar lowering's hash-consing read only that.  Subclasses set ``__slots__``, take
    the tag as their one constructor argument, and define ``tag`` and ``build_dfa``; one that
    has no plain regex for ``items`` defines ``mentions(code)`` (whether a character can occur)
    for the walkers that scan characters.
    """

    __slots__ = ()

    @property
    def tag(self):
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.tag == self.tag  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.tag))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tag!r})"

    def __reduce__(self):
        return type(self), (self.tag,)


@dataclass(frozen=True, slots=True)
class Alternation(_HashedOnce):
    options: tuple[RegexNode, ...]

    __hash__ = _HashedOnce.__hash__


@dataclass(frozen=True, slots=True)
class Repeat(_HashedOnce):
    item: RegexNode
    min: int
    max: int | None

    __hash__ = _HashedOnce.__hash__


@dataclass(frozen=True, slots=True)
class Empty(_HashedOnce):
    __hash__ = _HashedOnce.__hash__


@dataclass(frozen=True, slots=True)
class Product(_HashedOnce):
    """The strings of ``left`` that are (``mode="intersection"``) or are not (``"difference"``)
    in ``right``: a JSON-Schema ``pattern`` with length bounds, keys other than some patterns.

    No regex spells it, so walkers that need one refuse it; like a front-end's tagged node it
    has a ``build_dfa`` (the product of the operands' DFAs, `automata.product`), which
    `ast_to_dfa` calls and the NFA path embeds.
    """

    left: RegexNode
    right: RegexNode
    mode: str = "intersection"

    __hash__ = _HashedOnce.__hash__

    def build_dfa(self, limits):
        """The minimal DFA of the product (the operands through `ast_to_dfa`)."""
        from automask.compiler.automata.product import product_dfa
        from automask.compiler.regex import ast_to_dfa

        mode = "intersection" if self.mode == "intersection" else "difference"
        return product_dfa(ast_to_dfa(self.left, limits), ast_to_dfa(self.right, limits), mode, limits)


RegexNode = CharSet | Concat | Alternation | Repeat | Empty | Product

EMPTY = Empty()
NOTHING = CharSet(())


def normalize_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort, clip to the code-point space and merge overlapping or adjacent ranges."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        first, last = max(first, 0), min(last, MAX_CODE_POINT)
        if first > last:
            continue
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


def complement_ranges(ranges: Ranges) -> Ranges:
    """The code points in 0..U+10FFFF not in the normalised ``ranges``."""
    gaps: list[tuple[int, int]] = []
    next_free = 0
    for first, last in ranges:
        if first > next_free:
            gaps.append((next_free, first - 1))
        next_free = last + 1
    if next_free <= MAX_CODE_POINT:
        gaps.append((next_free, MAX_CODE_POINT))
    return tuple(gaps)


def char_set(ranges: Iterable[tuple[int, int]], negate: bool = False) -> CharSet:
    """A `CharSet` from any ranges (unsorted, overlapping); ``negate`` complements it."""
    normal = normalize_ranges(ranges)
    return CharSet(complement_ranges(normal) if negate else normal)


def literal(text: str) -> RegexNode:
    """The exact string ``text``."""
    return concat(CharSet(((ord(ch), ord(ch)),)) for ch in text)


def concat(items: Iterable[RegexNode]) -> RegexNode:
    """Concatenation, flattening nested `Concat` and dropping `Empty` items.

    A `Concat` subclass (a front-end's tagged node, e.g. `json_schema.keys.KeyNotIn`) is kept
    whole, so its tag survives.
    """
    flat: list[RegexNode] = []
    for item in items:
        if type(item) is Concat:
            flat.extend(item.items)
        elif not isinstance(item, Empty):
            flat.append(item)
    if not flat:
        return EMPTY
    if len(flat) == 1:
        return flat[0]
    return Concat(tuple(flat))


def alternation(options: Iterable[RegexNode]) -> RegexNode:
    """Alternation, flattening nested `Alternation`; a single option is returned as is."""
    flat: list[RegexNode] = []
    for option in options:
        flat.extend(option.options if isinstance(option, Alternation) else (option,))
    if not flat:
        return NOTHING
    if len(flat) == 1:
        return flat[0]
    return Alternation(tuple(flat))


def intersection(left: RegexNode, right: RegexNode) -> RegexNode:
    """The strings of both ``left`` and ``right`` (`NOTHING` when either is empty)."""
    if left == NOTHING or right == NOTHING:
        return NOTHING
    return Product(left, right, "intersection")


def difference(left: RegexNode, right: RegexNode) -> RegexNode:
    """The strings of ``left`` not in ``right``."""
    if left == NOTHING or right == NOTHING:
        return left
    return Product(left, right, "difference")


def repeat(item: RegexNode, minimum: int, maximum: int | None) -> RegexNode:
    """``item{minimum,maximum}`` (``maximum=None``: unbounded), simplifying trivial counts."""
    if maximum is not None and minimum > maximum:
        raise ValueError(f"repeat minimum {minimum} exceeds maximum {maximum}")
    if maximum == 0 or isinstance(item, Empty):
        return EMPTY
    if minimum == 1 and maximum == 1:
        return item
    return Repeat(item, minimum, maximum)
