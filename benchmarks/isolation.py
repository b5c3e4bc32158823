"""Run one worker in a fresh Python process with a wall-time and a memory limit.

A fresh process per engine × workload keeps engines from sharing caches, thread pools or JIT
state, makes every compile a cold one, and confines crashes.  The parent polls the child: past
``timeout_s`` of wall time, or past ``memory_limit_mb`` of resident memory (read from
``/proc/<pid>/status`` where it exists), the child is killed and the row reads "timeout" or
"out of memory".  A child that dies without writing its result reads "crashed" with the tail
of its stderr.  None of these stops the run.

Protocol: the spec is a JSON file, the child (``python -m benchmarks.run --worker SPEC
--result OUT``) writes its result dict as JSON to OUT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_INTERVAL_S = 0.05


def resident_mb(pid: int) -> float | None:
    """Current resident set size of ``pid`` in MiB, or None where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def run_isolated(spec: dict[str, Any], *, timeout_s: float, memory_limit_mb: float) -> dict[str, Any]:
    """Run `benchmarks.worker.run_worker_safely(spec)` in a child process and return its result."""
    with tempfile.TemporaryDirectory(prefix="automask-bench-") as tmp:
        workdir = Path(tmp)
        spec_path, result_path, log_path = (
            workdir / "spec.json",
            workdir / "result.json",
            workdir / "stderr.log",
        )
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--worker",
            str(spec_path),
            "--result",
            str(result_path),
        ]
        base = {"engine": spec["engine"], "workload": spec["workload"]}
        started = time.monotonic()
        peak_seen_mb = 0.0
        with open(log_path, "wb") as log:
            child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            failure: dict[str, Any] | None = None
            while child.poll() is None:
                rss = resident_mb(child.pid)
                if rss is not None:
                    peak_seen_mb = max(peak_seen_mb, rss)
                    if rss > memory_limit_mb:
                        failure = {
                            "status": "out of memory",
                            "error": f"resident memory above {memory_limit_mb:.0f} MB",
                        }
                if failure is None and time.monotonic() - started > timeout_s:
                    failure = {"status": "timeout", "error": f"no result after {timeout_s:.0f} s"}
                if failure is not None:
                    child.kill()
                    child.wait()
                    return (
                        base | failure | {"peak_rss_mb": peak_seen_mb, "wall_s": time.monotonic() - started}
                    )
                time.sleep(POLL_INTERVAL_S)
        wall_s = time.monotonic() - started
        if result_path.exists():
            return json.loads(result_path.read_text()) | {"wall_s": wall_s}
        return base | {
            "status": "crashed",
            "error": f"exit code {child.returncode}: {_tail(log_path)}",
            "peak_rss_mb": peak_seen_mb,
            "wall_s": wall_s,
        }
