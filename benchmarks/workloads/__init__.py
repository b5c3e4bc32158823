"""Benchmark suites: a registry from suite name to the function that builds its workloads.

Adding a suite (``cfg``, ``jsonschema``) means writing a module with a ``workloads()`` function
returning `Workload` objects of the right `WorkloadKind`, and adding one line to `SUITES`.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.workloads import cfg, regex
from benchmarks.workloads.base import Workload, WorkloadKind

SUITES: dict[str, Callable[[], list[Workload]]] = {
    "regex": regex.workloads,
    "cfg": cfg.workloads,
}


def suite_workloads(suite: str) -> list[Workload]:
    """The workloads of ``suite``, in table order; ValueError names the known suites."""
    try:
        build = SUITES[suite]
    except KeyError:
        raise ValueError(f"unknown suite {suite!r}; known suites: {', '.join(sorted(SUITES))}") from None
    return build()


__all__ = ["SUITES", "Workload", "WorkloadKind", "suite_workloads"]
