"""Finite byte-string sets -> minimal `ByteDFA` without an NFA or subset construction.

Most terminals of JSON-Schema and grammar front-ends are short literals or small
alternations of literals (property names, enum values, keywords).  For those, the general
path (Thompson NFA, subset construction, Hopcroft) costs far more than the answer: a
finite language's minimal DFA is its trie with equal sub-tries merged, and since a trie is
acyclic that merge is a single bottom-up pass keyed on each node's *signature*
``(accepting, ((byte, child class), ...))``.

The states are then numbered canonically (`canonical_order`): breadth-first from the start,
each state's successors visited in increasing byte order.  That is the numbering the
general path produces too, so both paths give identical tables for the same language.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA


def finite_language_dfa(words: Iterable[bytes]) -> ByteDFA:
    """The minimal, canonically numbered `ByteDFA` accepting exactly ``words`` (non-empty set).

    Layout while building: ``children[n]`` maps byte -> trie node, ``final[n]`` marks ends.
    """
    children: list[dict[int, int]] = [{}]
    final = [False]
    for word in words:
        node = 0
        for byte in word:
            nxt = children[node].get(byte)
            if nxt is None:
                nxt = len(children)
                children.append({})
                final.append(False)
                children[node][byte] = nxt
            node = nxt
        final[node] = True
    if len(children) == 1 and not final[0]:
        raise ValueError("finite_language_dfa needs at least one word")

    # Trie nodes are created parent-before-child, so reverse creation order is bottom-up.
    class_of = [0] * len(children)
    registry: dict[tuple[bool, tuple[tuple[int, int], ...]], int] = {}
    class_edges: list[tuple[tuple[int, int], ...]] = []
    class_final: list[bool] = []
    for node in range(len(children) - 1, -1, -1):
        edges = tuple(sorted((byte, class_of[child]) for byte, child in children[node].items()))
        key = (final[node], edges)
        found = registry.get(key)
        if found is None:
            found = len(class_edges)
            registry[key] = found
            class_edges.append(edges)
            class_final.append(final[node])
        class_of[node] = found

    start = class_of[0]
    order = canonical_order(start, class_edges)
    new_id = {old: new for new, old in enumerate(order)}
    transitions = np.full((len(order), 256), DEAD, dtype=np.int32)
    for old, new in new_id.items():
        for byte, target in class_edges[old]:
            transitions[new, byte] = new_id[target]
    accepting = np.array([class_final[old] for old in order], dtype=bool)
    return ByteDFA(transitions, accepting, 0)


def canonical_order(start: int, edges: list[tuple[tuple[int, int], ...]]) -> list[int]:
    """States in breadth-first order from ``start``, successors by increasing byte.

    ``edges[s]`` is state ``s``'s ``(byte, target)`` pairs sorted by byte.
    """
    order = [start]
    seen = {start}
    index = 0
    while index < len(order):
        for _, target in edges[order[index]]:
            if target not in seen:
                seen.add(target)
                order.append(target)
        index += 1
    return order
