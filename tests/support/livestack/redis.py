"""A throwaway redis-server on a free loopback port, with no persistence.

`RedisServer` runs `redis-server` bound to 127.0.0.1 with RDB snapshots and AOF off, a password
(`requirepass`) so clients exercise the same auth path as in the cluster, and its working folder
in a temporary directory. `stop()` / `start()` can be called repeatedly (same port and password)
so tests can take Redis away mid-test. Talking to it needs no client library: `command()` speaks
RESP over a socket.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import weakref
from pathlib import Path

from ._proc import LOOPBACK, free_port, kill_group, tail, wait_until

START_TIMEOUT_S = 20


class RedisError(RuntimeError):
    """The throwaway redis-server could not be started or answered an error."""


def find_redis_server() -> Path | None:
    """`LLMP_REDIS_SERVER` or `redis-server` on PATH (Debian: /usr/bin/redis-server)."""
    env = os.environ.get("LLMP_REDIS_SERVER")
    if env and Path(env).is_file():
        return Path(env)
    found = shutil.which("redis-server")
    return Path(found) if found else None


def missing_reason() -> str | None:
    if find_redis_server() is None:
        return (
            "redis-server not found; install it (Debian: `apt-get install redis-server`) or set "
            "LLMP_REDIS_SERVER to its path"
        )
    return None


class RedisServer:
    """One throwaway Redis. Use as a context manager or call `start()` and `close()`."""

    def __init__(self, *, port: int | None = None, password: str | None = None) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RedisError(missing_reason() or "redis-server not found")
        self.binary = binary
        self.host = LOOPBACK
        self.port = port or free_port()
        self.password = password if password is not None else secrets.token_hex(16)
        self.base_dir = Path(tempfile.mkdtemp(prefix="llmp-redis-"))
        self.log_path = self.base_dir / "redis.log"
        self._proc: subprocess.Popen | None = None
        self._holder: list[subprocess.Popen] = []  # shared with the finalizer
        self._finalizer = weakref.finalize(self, _cleanup, self._holder, self.base_dir)
        atexit.register(self._finalizer)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{self.host}:{self.port}/0"

    def env(self) -> dict[str, str]:
        """The REDIS_* variables LiteLLM reads."""
        return {"REDIS_HOST": self.host, "REDIS_PORT": str(self.port), "REDIS_PASSWORD": self.password}

    def start(self, timeout: float = START_TIMEOUT_S) -> "RedisServer":
        if self.is_running():
            return self
        conf = self.base_dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {self.host}",
                    "protected-mode yes",
                    f"requirepass {self.password}",
                    'save ""',
                    "appendonly no",
                    f"dir {self.base_dir}",
                    "daemonize no",
                    f"logfile {self.log_path}",
                    "databases 16",
                    "",
                ]
            )
        )
        os.chmod(conf, 0o600)
        proc = subprocess.Popen(
            [str(self.binary), str(conf)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=self.base_dir,
        )
        self._proc = proc
        self._holder[:] = [proc]
        if not wait_until(lambda: proc.poll() is not None or self._ping(), timeout):
            self.stop()
            raise RedisError(f"redis-server did not answer PING in {timeout}s; log:\n{tail(self.log_path)}")
        if proc.poll() is not None:
            raise RedisError(f"redis-server exited with {proc.returncode}; log:\n{tail(self.log_path)}")
        return self

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, then SIGKILL). A no-op when it is not running."""
        if self._proc is not None:
            kill_group(self._proc, term_timeout=5)
            self._proc = None
            self._holder.clear()

    def kill(self) -> None:
        """SIGKILL redis-server at once (a crash rather than a shutdown)."""
        if self._proc is not None:
            kill_group(self._proc, term_timeout=0)
            self._proc = None
            self._holder.clear()

    def close(self) -> None:
        self._finalizer()
        atexit.unregister(self._finalizer)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _ping(self) -> bool:
        try:
            return self.command("PING", timeout=0.5) == "PONG"
        except (OSError, RedisError):
            return False

    def command(self, *args: str | bytes | int, timeout: float = 5.0):
        """Send one command (authenticating first) and return the decoded reply."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            reader = sock.makefile("rb")
            sock.sendall(_encode("AUTH", self.password))
            _read_reply(reader)
            sock.sendall(_encode(*args))
            return _read_reply(reader)

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, running={self.is_running()})"


def _encode(*args: str | bytes | int) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def _read_reply(reader):
    line = reader.readline()
    if not line:
        raise RedisError("connection closed by redis-server")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return None
        data = reader.read(length + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [_read_reply(reader) for _ in range(count)]
    raise RedisError(f"unexpected RESP reply {line!r}")


def _cleanup(holder: list[subprocess.Popen], base_dir: Path) -> None:
    for proc in list(holder):
        kill_group(proc, term_timeout=5)
    holder.clear()
    shutil.rmtree(base_dir, ignore_errors=True)
