"""gunicorn as production runs it, started for a test and stopped without leaving a worker
behind: its own process group on a free loopback port, logs in files the test can print."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
# The access log line: worker pid, status, request line. The pid shows that several
# processes served the run.
ACCESS_FORMAT = '%(p)s %(s)s "%(r)s"'
ACCESS_LINE = re.compile(r"^<(\d+)> (\d{3}) \"[A-Z]+ (\S+)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment(**settings: str) -> dict[str, str]:
    """The test process's environment without anything that configures Stockroom, plus
    `settings`: the server sees only what the test means it to."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("FLASK_", "GUNICORN_", "STOCKROOM_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "DB_POOL_SIZE",
                      "DB_MAX_OVERFLOW", "SQLITE_BUSY_TIMEOUT_MS", "WEB_CONCURRENCY", "PORT",
                      "PROXY_HOPS")
    }
    env.update(settings)
    return env


def run_flask(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`flask …` as an operator runs it, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )


@dataclass
class Gunicorn:
    env: dict[str, str]
    workers: int
    logs: Path
    port: int = 0
    process: subprocess.Popen | None = None
    started_in: float = 0.0
    _files: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.logs / "gunicorn.stderr.log"

    @property
    def access_path(self) -> Path:
        return self.logs / "gunicorn.access.log"

    def start(self, *, ready_within: float = 45.0) -> None:
        """Start on a free port and wait until /healthz answers 200."""
        for _attempt in range(3):
            self.port = free_port()
            self._spawn()
            outcome = self._wait_ready(ready_within)
            if outcome == "ready":
                return
            self.stop()
            if "Address already in use" not in self.stderr():
                break  # anything but a lost race for the port is a real failure
        raise AssertionError(f"gunicorn did not become healthy:\n{self.stderr()}")

    def _spawn(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        access = open(self.access_path, "w")  # closed in stop()
        errors = open(self.stderr_path, "w")
        self._files = [access, errors]
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "-c", str(GUNICORN_CONF),
                "-w", str(self.workers),
                "-b", f"127.0.0.1:{self.port}",
                "--access-logformat", ACCESS_FORMAT,
            ],
            cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=access, stderr=errors,
            start_new_session=True,  # its own process group: stop() signals master and workers
        )

    def _wait_ready(self, within: float) -> str:
        assert self.process is not None
        began = time.monotonic()
        while time.monotonic() - began < within:
            if self.process.poll() is not None:
                return "exited"
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        self.started_in = time.monotonic() - began
                        return "ready"
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        return "timeout"

    def stop(self) -> None:
        """TERM the process group (master and workers), KILL whatever is left after 20 s."""
        process, self.process = self.process, None
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            try:  # workers that outlived the master are still in the group
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if process.poll() is None:
                process.wait(timeout=10)
        for handle in self._files:
            handle.close()
        self._files = []

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def access_lines(self) -> list[tuple[int, int, str]]:
        """(worker pid, status, path) per request the server logged."""
        if not self.access_path.exists():
            return []
        out = []
        for line in self.access_path.read_text(errors="replace").splitlines():
            match = ACCESS_LINE.match(line)
            if match:
                out.append((int(match.group(1)), int(match.group(2)), match.group(3)))
        return out


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes; /proc says so on Linux.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status
