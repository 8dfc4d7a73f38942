"""The first command a newcomer types is safe: `make run` serves without Flask's debugger
wherever it listens, and `make dev`, which has it, refuses any but a loopback address.

`make -n` prints the commands without running them; the refusal happens while make reads
the Makefile, before any command, so `make -n` meets it exactly as a real run does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOST", "PORT", "MAKEFLAGS", "MFLAGS") and not k.startswith("FLASK_")}
    return subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def commands(output: str) -> list[list[str]]:
    """Each shell command of the recipe lines, as words: a line continued with a backslash is one
    line, and `;`, `&` and `&&` end a command."""
    found: list[list[str]] = []
    for line in output.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for word in lexer:
            if word in (";", "&", "&&"):
                found.append(words)
                words = []
            else:
                words.append(word)
        found.append(words)
    return [words for words in found if words]


def serve_command(output: str) -> list[str]:
    """The words of the `flask … run` command."""
    served = [words for words in commands(output)
              if any(w.endswith("flask") for w in words) and "run" in words]
    assert len(served) == 1, output
    return served[0]


@pytest.mark.parametrize("host", [None, "0.0.0.0"])
def test_make_run_serves_without_the_debugger(host: str | None) -> None:
    result = make("run", *([f"HOST={host}"] if host else []))
    assert result.returncode == 0, result.stderr
    words = serve_command(result.stdout)
    assert "--debug" not in words and "--debugger" not in words and "--reload" not in words
    # Explicitly off, so FLASK_DEBUG or FLASK_RUN_DEBUGGER in the environment cannot turn
    # them on.
    assert {"--no-debug", "--no-debugger", "--no-reload"} <= set(words)
    assert words[words.index("--host") + 1] == (host or "127.0.0.1")
    assert words[words.index("--port") + 1] == "5000"
    # Plain HTTP: a Secure session cookie would never come back from another machine.
    assert "FLASK_SESSION_COOKIE_SECURE=false" in words


def test_make_run_takes_host_and_port() -> None:
    words = serve_command(make("run", "HOST=0.0.0.0", "PORT=8080").stdout)
    assert words[words.index("--host") + 1] == "0.0.0.0"
    assert words[words.index("--port") + 1] == "8080"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_make_dev_serves_the_debugger_on_loopback(host: str) -> None:
    result = make("dev", f"HOST={host}")
    assert result.returncode == 0, result.stderr
    words = serve_command(result.stdout)
    assert "--debug" in words
    assert words[words.index("--host") + 1] == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "", "127.0.0.1.example.com"])
def test_make_dev_refuses_any_other_address(host: str) -> None:
    result = make("dev", f"HOST={host}")
    assert result.returncode != 0
    assert f"make dev refuses HOST={host}:" in result.stderr
    assert "loopback" in result.stderr and "make run" in result.stderr
    assert "flask" not in result.stdout  # nothing was about to run


@pytest.mark.parametrize("target", ["run", "dev"])
def test_make_run_and_dev_start_a_task_worker_that_stops_with_the_app(target: str) -> None:
    output = make(target).stdout
    started = [line for line in output.splitlines() if "flask worker &" in line]
    assert len(started) == 1, output
    # Killed with the shell however it ends (Ctrl-C, kill, the app exiting), and the
    # development webhook receiver with it.
    assert "trap 'kill $worker $receiver 2>/dev/null' EXIT INT TERM" in output


@pytest.mark.parametrize("target", ["run", "dev"])
def test_make_run_and_dev_start_the_webhook_receiver_on_loopback(target: str) -> None:
    received = [words for words in commands(make(target, "HOOK_PORT=6001").stdout)
                if "receive" in words]
    assert len(received) == 1
    words = received[0]
    assert words[words.index("webhooks") + 1] == "receive"
    assert "--register" in words and words[words.index("--port") + 1] == "6001"
    assert "--host" not in words  # its own default: 127.0.0.1, the only kind it takes
    # Plain http to this machine: the receiver's address is accepted as a webhook.
    assert "WEBHOOKS_ALLOW_HTTP_LOOPBACK=true" in words
