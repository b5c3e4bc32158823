"""Comma-separated elements that must include *witnesses*: for each of a few requirements, at
least one element that meets it (the complements of ``propertyNames``, ``patternProperties``
and ``additionalProperties``, by `objects`; several ``contains`` at once, by `arrays`).

Each element is one of its *versions*: a bit set of the requirements it meets -> the element's
language for that choice (0: the plain element).  The chain tracks the set of requirements still
to meet, at most ``2 ** n`` states per position, so callers keep ``n`` small.  A version meeting a
*valued* requirement that is already met is skipped (its plain version holds the same
elements); a requirement whose versions split the elements exactly (an object key in a
language or not) is taken whenever its element comes.
"""

from __future__ import annotations

from automask.compiler.regex.ast import EMPTY, RegexNode, alternation, concat, repeat


def subsets(bits: int) -> list[int]:
    """Every subset of the bit set ``bits``, the empty one first."""
    found, subset = [0], bits
    while subset:
        found.append(subset)
        subset = (subset - 1) & bits
    return sorted(found)


def chain_with_witnesses(
    members: list[dict[int, RegexNode]],
    needed: list[bool],
    extras: dict[int, RegexNode],
    comma: RegexNode,
    count: int,
    valued: int,
) -> RegexNode:
    """``members`` in order (``needed``: not skippable), then any number of ``extras``, comma
    separated, meeting all ``count`` requirements (``valued``: the bit set of the valued ones).
    Each member and the extras are given by their versions (see the module docstring).
    ``after[S]`` / ``first[S]``: the rest once something was written / when nothing was, with
    the requirements ``S`` still to meet."""
    full = (1 << count) - 1

    def allowed(versions: dict[int, RegexNode], state: int) -> list[tuple[int, RegexNode]]:
        return [(chosen, node) for chosen, node in versions.items() if not chosen & valued & ~state]

    after: dict[int, RegexNode] = {}
    first: dict[int, RegexNode] = {}
    for state in range(full + 1):  # ``state & ~chosen`` is smaller than ``state``: built before
        usable = allowed(extras, state)
        staying = [node for chosen, node in usable if not chosen & state]
        loop = repeat(concat([comma, alternation(staying)]), 0, None) if staying else EMPTY
        if state == 0:
            after[0] = loop
            first[0] = repeat(concat([alternation(staying), loop]), 0, 1) if staying else EMPTY
            continue
        meeting = [(node, after[state & ~chosen]) for chosen, node in usable if chosen & state]
        after[state] = concat([loop, alternation([concat([comma, node, rest]) for node, rest in meeting])])
        first[state] = alternation(
            [concat([node, rest]) for node, rest in meeting]
            + [concat([node, after[state]]) for node in staying]
        )
    for versions, is_needed in zip(reversed(members), reversed(needed), strict=True):
        next_after: dict[int, RegexNode] = {}
        next_first: dict[int, RegexNode] = {}
        for state in range(full + 1):
            taken = [(node, after[state & ~chosen]) for chosen, node in allowed(versions, state)]
            led = [concat([comma, node, rest]) for node, rest in taken]
            bare = [concat([node, rest]) for node, rest in taken]
            next_after[state] = alternation(led if is_needed else [*led, after[state]])
            next_first[state] = alternation(bare if is_needed else [*bare, first[state]])
        after, first = next_after, next_first
    return first[full]
