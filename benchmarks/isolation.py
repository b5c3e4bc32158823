"""Run workers in child processes with a wall-time and a memory limit.

A fresh process per engine × workload keeps engines from sharing caches, thread pools or JIT
state, makes every compile a cold one, and confines crashes.  The parent polls the child: past
``timeout_s`` of wall time, or past ``memory_limit_mb`` of resident memory (read from
``/proc/<pid>/status`` where it exists), the child is killed and the row reads "timeout" or
"out of memory".  A child that dies without writing its result reads "crashed" with the tail
of its stderr.  None of these stops the run.

Protocol (`run_isolated`): the spec is a JSON file, the child (``python -m benchmarks.run
--worker SPEC --result OUT``) writes its result dict as JSON to OUT.  `PersistentWorker` is the
long-lived variant used by MaskBench: one child per engine serving many requests, each under
its own limits, restarted after a request is killed.
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


class PersistentWorker:
    """A long-lived child process answering JSON requests one at a time, each under a limit.

    MaskBench compiles thousands of schemas per engine: a fresh process per schema would spend
    most of the run loading the tokenizer.  This child loads it once and serves requests; when
    one request runs past its time or memory limit the child is killed, the request's reply
    reads ``{"status": "timeout"}`` (or ``"out of memory"`` / ``"crashed"``), and the next
    request starts a fresh child.

    Protocol: ``command`` is started with stdin and stdout as pipes (stderr to ``log_path``).
    Its first stdout line is a JSON "ready" message; afterwards each request is one JSON line
    on stdin and its reply one JSON line on stdout.  The child must keep other output off
    stdout (see `benchmarks.maskbench_worker.serve`).
    """

    def __init__(self, command: list[str], *, memory_limit_mb: float, log_path: Path) -> None:
        self.command = command
        self.memory_limit_mb = memory_limit_mb
        self.log_path = log_path
        self.ready: dict[str, Any] | None = None
        self.restarts = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._peak_mb = 0.0

    def _spawn(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        try:
            self._child = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        finally:
            log.close()
        self._buffer = b""
        self._peak_mb = 0.0

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            self._child = None

    def _read_line(self, timeout_s: float) -> dict[str, Any]:
        """The child's next JSON line, or a failure dict (the child is then killed)."""
        import selectors

        assert self._child is not None and self._child.stdout is not None
        fd = self._child.stdout.fileno()
        started = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if selector.select(POLL_INTERVAL_S):
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        self._kill()
                        return {"status": "crashed", "error": f"worker exited: {_tail(self.log_path)}"}
                    self._buffer += chunk
                    continue
                rss = resident_mb(self._child.pid)
                if rss is not None:
                    self._peak_mb = max(self._peak_mb, rss)
                    if rss > self.memory_limit_mb:
                        self._kill()
                        return {
                            "status": "out of memory",
                            "error": f"resident memory above {self.memory_limit_mb:.0f} MB",
                        }
                if time.monotonic() - started > timeout_s:
                    self._kill()
                    return {"status": "timeout", "error": f"no result after {timeout_s:g} s"}
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def start(self, timeout_s: float) -> dict[str, Any]:
        """Start the child if none runs; its ready message, or a failure dict."""
        if self._child is not None and self._child.poll() is None and self.ready is not None:
            return self.ready
        if self.ready is not None:
            self.restarts += 1
        self._spawn()
        message = self._read_line(timeout_s)
        self.ready = message if message.get("status") == "ready" else None
        return message

    def request(self, message: dict[str, Any], *, timeout_s: float, start_timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for its reply under ``timeout_s`` (start-up not included)."""
        ready = self.start(start_timeout_s)
        if ready.get("status") != "ready":
            return {"status": "worker failed to start", "error": str(ready.get("error", ready))[-2000:]}
        assert self._child is not None and self._child.stdin is not None
        try:
            self._child.stdin.write(json.dumps(message).encode() + b"\n")
            self._child.stdin.flush()
        except BrokenPipeError:
            self._kill()
            return {"status": "crashed", "error": f"worker exited: {_tail(self.log_path)}"}
        started = time.monotonic()
        reply = self._read_line(timeout_s)
        reply.setdefault("wall_s", time.monotonic() - started)
        reply.setdefault("peak_rss_mb", self._peak_mb)
        return reply

    def close(self) -> None:
        """Ask the child to exit (stdin closed) and reap it; kill it if it lingers."""
        if self._child is None:
            return
        try:
            if self._child.stdin is not None:
                self._child.stdin.close()
            self._child.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._kill()
        self._child = None
