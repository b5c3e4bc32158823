"""Size limits that bound compilation, so bad input fails fast with `CompileLimitExceeded`.

Each limit guards one resource that a pathological pattern or grammar could blow up:
source length, automaton states (subset construction is exponential in the worst case),
and token-index memory.  Defaults leave room for every realistic constraint; callers pass
their own `CompileLimits` to tighten or relax them.
"""

from __future__ import annotations

from dataclasses import dataclass

from automask.errors import CompileLimitExceeded


@dataclass(frozen=True)
class CompileLimits:
    max_source_chars: int = 1_000_000
    max_repeat: int = 10_000
    max_nfa_states: int = 2_000_000
    max_dfa_states: int = 200_000
    max_index_bytes: int = 1 << 30

    def check(self, limit: str, value: int) -> None:
        """Raise `CompileLimitExceeded` if ``value`` exceeds the limit named ``limit`` (a field name)."""
        maximum = getattr(self, limit)
        if value > maximum:
            raise CompileLimitExceeded(
                limit, value, maximum, hint=f"raise CompileLimits({limit}=...) to allow it"
            )


DEFAULT_LIMITS = CompileLimits()
