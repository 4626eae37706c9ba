"""A throwaway PostgreSQL cluster on a free loopback port.

`PostgresServer` runs `initdb` into a temporary folder and `pg_ctl` to start and stop the
postmaster, listening on 127.0.0.1 only (its Unix socket goes into the same temporary folder).
When the caller is root it runs the server binaries as the `postgres` user, because `initdb`
refuses to run as root.

Live tests stop the database mid-test to prove fail-closed behaviour, so `stop()` / `start()` /
`kill()` can be called any number of times; the port, data and password survive a restart.
`close()` (or leaving the `with` block, or interpreter exit) stops the cluster and deletes it.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from ._proc import LOOPBACK, free_port, pid_alive, port_open, tail, wait_until

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
START_TIMEOUT_S = 60
SUPERUSER = "postgres"


class PostgresError(RuntimeError):
    """The throwaway cluster could not be created, started or queried."""


def find_pg_bin() -> Path | None:
    """The folder with initdb/pg_ctl/postgres/psql: `LLMP_PG_BIN`, Debian's newest, or PATH."""
    candidates: list[Path] = []
    env = os.environ.get("LLMP_PG_BIN")
    if env:
        candidates.append(Path(env))
    versioned = []
    for path in Path("/usr/lib/postgresql").glob("*/bin"):
        match = re.fullmatch(r"\d+", path.parent.name)
        if match:
            versioned.append((int(path.parent.name), path))
    candidates.extend(path for _, path in sorted(versioned, reverse=True))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in (*SERVER_BINARIES, "psql")):
            return folder
    return None


def missing_reason() -> str | None:
    """None when a cluster can be started here, else why not (and how to fix it)."""
    if find_pg_bin() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) not found; install them "
            "(Debian: `apt-get install postgresql`) or set LLMP_PG_BIN to their folder"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root but there is no `postgres` user to run initdb as (initdb refuses root)"
    return None


class PostgresServer:
    """One throwaway cluster. Use as a context manager or call `start()` and `close()`."""

    def __init__(self, *, port: int | None = None, base_dir: Path | None = None) -> None:
        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise PostgresError(missing_reason() or "PostgreSQL binaries not found")
        self.bin_dir = bin_dir
        self.port = port or free_port()
        self.host = LOOPBACK
        self.user = SUPERUSER
        self.password = secrets.token_hex(16)
        self._owns_base = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="llmp-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "postgres.log"
        self._ctl_log = self.base_dir / "pg_ctl.log"
        self._run_as: str | None = SUPERUSER if os.geteuid() == 0 else None
        self._initialised = False
        self._finalizer = weakref.finalize(
            self, _emergency_stop, self.bin_dir, self.data_dir, self._run_as,
            self.base_dir if self._owns_base else None,
        )
        atexit.register(self._finalizer)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "PostgresServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, timeout: float = START_TIMEOUT_S) -> "PostgresServer":
        """Create the cluster on first use, then start the postmaster and wait until it accepts."""
        if not self._initialised:
            self._initdb()
        if self.is_running():
            return self
        opts = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={self.host}",
                f"-k {self.socket_dir}",
                # Throwaway data: durability off makes DDL and the migrations several times faster.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._ctl(["start", "-w", "-t", str(int(timeout)), "-l", str(self.log_path), "-o", opts], timeout + 10)
        if not wait_until(lambda: port_open(self.port, self.host), timeout=10):
            raise PostgresError(f"postgres started but port {self.port} is closed; log:\n{tail(self.log_path)}")
        return self

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        """Stop the postmaster (`mode`: smart, fast or immediate). A no-op when it is not running."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown stop mode {mode!r}")
        if not self._initialised or not self.is_running():
            return
        self._ctl(["stop", "-w", "-t", str(int(timeout)), "-m", mode], timeout + 10)
        wait_until(lambda: not port_open(self.port, self.host), timeout=5)

    def kill(self) -> None:
        """Crash-stop: every server process is gone at once and no shutdown checkpoint is written."""
        if not self._initialised:
            return
        pid = self.postmaster_pid()
        try:
            self.stop(mode="immediate", timeout=10)
        except PostgresError:
            pass
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(pid), timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the cluster and delete its folder."""
        self._finalizer()
        atexit.unregister(self._finalizer)

    # ------------------------------------------------------------------ state
    def postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, ValueError, IndexError):
            return None

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and pid_alive(pid)

    # ------------------------------------------------------------------ SQL
    def dsn(self, database: str = "postgres") -> str:
        """A `postgresql://` URL for `database` over TCP on loopback."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str | None = None, *, database: str = "postgres", file: Path | None = None,
             timeout: float = 120) -> str:
        """Run SQL (a string or a file) with psql, stopping at the first error; return stdout."""
        if (sql is None) == (file is None):
            raise ValueError("pass exactly one of sql or file")
        cmd = [
            str(self.bin_dir / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
            "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database,
        ]
        cmd += ["-c", sql] if sql is not None else ["-f", str(file)]
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT="10")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
        if proc.returncode != 0:
            what = sql if sql is not None else f"-f {file}"
            raise PostgresError(f"psql failed ({proc.returncode}) running {what[:200]!r}: {proc.stderr.strip()}")
        return proc.stdout

    def create_database(self, name: str) -> str:
        """Create database `name` if missing and return its DSN."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
            raise ValueError(f"unsafe database name {name!r}")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if not exists:
            self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    # ------------------------------------------------------------------ internals
    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chmod(self.base_dir, 0o700)
        os.chmod(pwfile, 0o600)
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            for path in (self.base_dir, self.socket_dir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cmd = [
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
            f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        ]
        proc = self._run(cmd, timeout=120)
        pwfile.unlink(missing_ok=True)
        if proc.returncode != 0:
            raise PostgresError(f"initdb failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        self._initialised = True

    def _ctl(self, args: list[str], timeout: float) -> None:
        proc = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args], timeout=timeout)
        if proc.returncode != 0:
            raise PostgresError(
                f"pg_ctl {args[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}\n"
                f"server log tail:\n{tail(self.log_path)}"
            )

    def _run(self, cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
        # Output goes to a file, not a pipe: the postmaster that pg_ctl forks must not hold our pipe.
        with open(self._ctl_log, "a+") as out:
            if self._run_as:
                os.chown(self._ctl_log, pwd.getpwnam(self._run_as).pw_uid, -1)
            start = out.tell()
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout,
                check=False, cwd=self.base_dir, env=_server_env(self._run_as), **_as_user(self._run_as),
            )
            out.seek(start)
            text = out.read()
        return subprocess.CompletedProcess(cmd, proc.returncode, text, "")

    def __repr__(self) -> str:
        return f"PostgresServer(port={self.port}, running={self.is_running()}, dir={self.base_dir})"


def _as_user(user: str | None) -> dict:
    if not user:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _server_env(user: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if user:
        env["HOME"] = pwd.getpwnam(user).pw_dir
        env["USER"] = env["LOGNAME"] = user
    return env


def _emergency_stop(bin_dir: Path, data_dir: Path, run_as: str | None, remove_dir: Path | None) -> None:
    """Stop the cluster (immediate) and delete its folder; safe to call more than once."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "stop", "-m", "immediate", "-w", "-t", "10"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=False,
            timeout=20, env=_server_env(run_as), **_as_user(run_as),
        )
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    if remove_dir is not None:
        shutil.rmtree(remove_dir, ignore_errors=True)
