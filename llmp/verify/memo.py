"""An opt-in, content-addressed cache for the slow deterministic steps of `llmp verify`.

Off unless `LLMP_VERIFY_CACHE` names a folder. Then a step's result is stored under the SHA-256 of
everything the step reads (its name, its pickled arguments, or for checkov the bytes of every file
it scans), so a result is reused only for byte-identical inputs: a changed object, flag, sample size
or checkov version is a different key, never a stale hit. The test suite points it at a folder that
lives for one test run (tests/conftest.py), so a prod plan proved once is not proved again by every
test that plants a violation elsewhere, and the README's `llmp verify prod` shares checkov's scan of
the same manifests; a user can point it at a folder of their own to re-verify an unchanged plan quickly.

Only pure steps go through here: the SR2 proof over explicit inputs (seeded, no clock in the verdict)
and checkov's JSON for one folder's bytes.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ENV = "LLMP_VERIFY_CACHE"
T = TypeVar("T")


def cache_dir() -> Path | None:
    folder = os.environ.get(ENV, "").strip()
    return Path(folder) if folder else None


_CODE: list[bytes] = []


def code_digest() -> bytes:
    """Every file under llmp/ and llmplatform/ (the modules a cached step may run and the data files they
    read: records, contracts, metric names), and the versions of the installed distributions: a result is
    never reused across a code, data or engine change."""
    if not _CODE:
        from importlib import metadata

        digest = hashlib.sha256()
        root = Path(__file__).resolve().parents[2]
        for package in ("llmp", "llmplatform"):
            for path in sorted(p for p in (root / package).rglob("*")
                               if p.is_file() and "__pycache__" not in p.parts):
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()):
            digest.update(dist.encode() + b"\0")
        _CODE.append(digest.digest())
    return _CODE[0]


def key_of(name: str, *parts: bytes) -> str:
    digest = hashlib.sha256(name.encode())
    digest.update(code_digest())
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return f"{name}-{digest.hexdigest()}"


def folder_digest(folder: Path) -> bytes:
    """Every file under `folder` (relative path and bytes, in sorted order), as one digest."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix().encode()
        data = path.read_bytes()
        for part in (rel, data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.digest()


def _load(path: Path) -> tuple[bool, Any]:
    try:
        return True, pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return False, None


def _store(path: Path, value: Any) -> None:
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a reader in another process sees the whole result or none.
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def cached(key: str, compute: Callable[[], T], keep: Callable[[T], bool] = lambda _: True) -> T:
    """`compute()`, or what it returned earlier for `key` when the cache is on; a value `keep` refuses
    (a crashed tool's output) is returned but not stored."""
    folder = cache_dir()
    if folder is None:
        return compute()
    path = folder / f"{key}.pickle"
    if path.is_file():
        hit, value = _load(path)
        if hit:
            return value
    value = compute()
    if keep(value):
        _store(path, value)
    return value


def call(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)`, cached under the pickled arguments (not cached if they do not pickle)."""
    if cache_dir() is None:
        return fn(*args, **kwargs)
    try:
        blob = pickle.dumps((args, sorted(kwargs.items())), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return fn(*args, **kwargs)
    return cached(key_of(name, blob), lambda: fn(*args, **kwargs))
