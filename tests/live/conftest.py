"""Fixtures for live tests: the real LiteLLM proxy with real PostgreSQL and Redis on loopback.

Missing system prerequisites (PostgreSQL server binaries, redis-server, Node/npm) skip these tests
on a user's machine and fail them under CI=true (`tests.support.gates.require`). The
LiteLLM venv, npm packages and Prisma client are installed on first use (`make live-deps` does it
ahead of time).

Fixtures:
  postgres        session: a throwaway cluster; tests may stop()/kill() it, the proxy factory
                  restarts it for the next proxy.
  redis           session: a throwaway redis-server.
  fake_backend    function: the session's OpenAI-compatible backend, requests cleared and
                  knobs reset for each test.
  start_proxy     function: factory `start_proxy(config, extra_files=..., env=..., database=...)`
                  returning a started `LiteLLMProxy`; `start_proxy.replicas(n, config, ...)`
                  starts n of them on one database at the same time. Every proxy it started is
                  stopped at the end of the test, and Redis is emptied before its first proxy
                  (LiteLLM keeps spend counters there keyed by team id, and tests reuse team ids).

Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`) every live test is in the xdist
group `live`, so they all run one after another on one worker, which owns the servers above.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.gates import require
from tests.support.livestack import missing_prerequisites
from tests.support.livestack.fake_backend import FakeOpenAIBackend
from tests.support.livestack.litellm_env import LiteLLMEnvError
from tests.support.livestack.postgres import PostgresServer
from tests.support.livestack.prisma_wasm import PrismaSetupError
from tests.support.livestack.proxy import LiteLLMProxy, prepare
from tests.support.livestack.redis import RedisServer


LIVE_DIR = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before xdist's hook turns the group into the node id suffix
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every live test in xdist group `live`: one worker runs them in order, with one Postgres
    and Redis, while the other workers run the offline tests."""
    for item in items:
        if LIVE_DIR in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("live"))


def _require_system() -> None:
    missing = missing_prerequisites()
    require(not missing, "live LiteLLM stack unavailable: " + "; ".join(missing))


@pytest.fixture(scope="session")
def livestack_env():
    """The prepared LiteLLM venv (installs it, the npm packages and the Prisma client if needed)."""
    _require_system()
    try:
        return prepare()
    except (LiteLLMEnvError, PrismaSetupError) as exc:
        require(False, f"could not prepare the LiteLLM venv / Prisma client (run `make live-deps`): {exc}")


def _serve(make):
    """Start a throwaway server for the session and always close it (its data folder goes too).

    `make` is called only after the prerequisite gate: the constructors look for the binaries."""
    _require_system()
    server = make()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    yield from _serve(PostgresServer)


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    yield from _serve(RedisServer)


@pytest.fixture(scope="session")
def _fake_backend_server() -> Iterator[FakeOpenAIBackend]:
    with FakeOpenAIBackend(models=("fake-model",)) as backend:
        yield backend


@pytest.fixture
def fake_backend(_fake_backend_server: FakeOpenAIBackend) -> FakeOpenAIBackend:
    backend = _fake_backend_server
    backend.clear()
    backend.fail_next(0)
    backend.delay_s = 0.0
    backend.completion_tokens = None
    backend.reply_prefix = ""
    backend.answer_tools = True
    return backend


def _plain_nodeid(nodeid: str) -> str:
    """The node id without the `@group` suffix pytest-xdist adds under --dist loadgroup."""
    return re.sub(r"@[A-Za-z0-9_]+$", "", nodeid)


def _database_name(nodeid: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", _plain_nodeid(nodeid).split("::")[-1].lower()).strip("_")
    return f"t_{slug}"[:60]


class ProxyFactory:
    """`start_proxy`: starts proxies for one test and stops them all at its end."""

    def __init__(self, request: pytest.FixtureRequest, postgres: PostgresServer, redis: RedisServer) -> None:
        self.postgres = postgres
        self.redis = redis
        self.started: list[LiteLLMProxy] = []
        self.default_db = _database_name(request.node.nodeid)
        self._redis_emptied = False

    def _make(self, config: Mapping[str, Any], *, extra_files: Mapping[str, str | bytes | Path] | None = None,
              env: Mapping[str, str] | None = None, database: str | None = None, master_key: str | None = None,
              with_redis: bool = True, name: str | None = None, ready_timeout: float = 180.0) -> LiteLLMProxy:
        self.postgres.start()  # a previous test may have stopped it
        if with_redis:
            self.redis.start()
            if not self._redis_emptied:
                self.redis.command("FLUSHALL")
                self._redis_emptied = True
        proxy = LiteLLMProxy(
            config,
            postgres=self.postgres,
            redis=self.redis if with_redis else None,
            database=database or self.default_db,
            master_key=master_key or (self.started[0].master_key if self.started else None),
            extra_files=extra_files,
            env=env,
            ready_timeout=ready_timeout,
            name=name or f"proxy{len(self.started)}",
        )
        self.started.append(proxy)
        return proxy

    def __call__(self, config: Mapping[str, Any], **kwargs: Any) -> LiteLLMProxy:
        return self._make(config, **kwargs).start()

    def replicas(self, count: int, config: Mapping[str, Any], **kwargs: Any) -> list[LiteLLMProxy]:
        """`count` proxies with one config and database (`database=` or the test's), started at
        the same time (most of a start is the proxy importing LiteLLM, one process each)."""
        name = kwargs.pop("name", "replica")
        proxies = [self._make(config, name=f"{name}{i}", **kwargs) for i in range(count)]
        errors: list[BaseException] = []

        def start(proxy: LiteLLMProxy) -> None:
            try:
                proxy.start()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(p,)) for p in proxies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return proxies

    def close(self) -> None:
        # The test is over: nothing a graceful shutdown would flush is looked at any more.
        for proxy in self.started:
            proxy.close(term_timeout=2.0)


@pytest.fixture
def start_proxy(
    request: pytest.FixtureRequest, livestack_env, postgres: PostgresServer, redis: RedisServer
) -> Iterator[ProxyFactory]:
    """Factory for started proxies; each test gets its own database unless `database=` is given."""
    factory = ProxyFactory(request, postgres, redis)
    try:
        yield factory
    finally:
        factory.close()
        # Leave the shared servers up for the next test.
        postgres.start()
        redis.start()


# --- SR3 live evidence -------------------------------------------------------------------------
# Tests marked `@pytest.mark.sr3_live("claim")` are evidence for SR3. Their outcome (and any facts
# they put in the `live_facts` dict) is written to build/live/sr3-live.json at the end of the run,
# which `llmp verify` quotes in the SR3 section of its report. Failures are recorded too.

LIVE_RESULTS = Path(__file__).resolve().parents[2] / "build" / "live" / "sr3-live.json"
_LIVE_KEY = pytest.StashKey[dict[str, dict[str, Any]]]()
_FACTS_KEY = pytest.StashKey[dict[str, Any]]()


@pytest.fixture
def live_facts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Numbers a live test wants in the SR3 evidence (spend, budget, status codes...)."""
    facts: dict[str, Any] = {}
    request.node.stash[_FACTS_KEY] = facts
    return facts


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("sr3_live")
    # The call phase decides; a setup that failed or skipped is recorded as such (no call follows).
    if marker is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    results = item.session.stash.setdefault(_LIVE_KEY, {})
    results[_plain_nodeid(item.nodeid)] = {
        "claim": marker.args[0] if marker.args else item.name,
        "outcome": report.outcome,
        "facts": item.stash.get(_FACTS_KEY, {}),
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Merge this run's SR3 evidence into build/live/sr3-live.json: a run of one file updates its
    tests' entries and keeps the others (each entry carries the LiteLLM version and time it ran)."""
    results = session.stash.get(_LIVE_KEY, None)
    if not results:
        return
    import datetime
    import json

    from tests.support.livestack.litellm_env import LITELLM_VERSION

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    merged: dict[str, Any] = {}
    if LIVE_RESULTS.exists():
        try:
            merged = dict(json.loads(LIVE_RESULTS.read_text()).get("results", {}))
        except (OSError, ValueError):
            merged = {}
    for nodeid, entry in results.items():
        merged[nodeid] = {**entry, "litellmVersion": LITELLM_VERSION, "recordedAt": now}
    # Entries from another LiteLLM release are not evidence for this one.
    merged = {k: v for k, v in merged.items() if v.get("litellmVersion") == LITELLM_VERSION}
    LIVE_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    LIVE_RESULTS.write_text(json.dumps({
        "generatedAt": now,
        "litellmVersion": LITELLM_VERSION,
        "results": dict(sorted(merged.items())),
    }, indent=2, sort_keys=True) + "\n")
