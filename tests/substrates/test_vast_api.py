"""The Vast REST client against the local fake: documented shapes, auth, retries, errors, no key leaks."""

from __future__ import annotations

import pickle
import secrets
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from substrates.vast.api import (
    API_KEY_ENV,
    BASE_URL_ENV,
    Offer,
    OfferFilters,
    VastApiError,
    VastAuthError,
    VastClient,
    VastConfigError,
    VastInstanceFailedError,
    VastInstanceGoneError,
    VastOfferUnavailableError,
    VastTimeoutError,
    canonical_gpu_name,
)
from tests.support.vast_fake_server import FakeVastServer, default_offers

KEY = "vast-test-key-" + secrets.token_hex(16)
KVM = "docker.io/vastai/kvm:ubuntu_terminal"
TWO_4090 = OfferFilters(gpu_name="RTX_4090", num_gpus=2, min_reliability=0.98, max_dph_usd=1.5, min_disk_gb=200)


@pytest.fixture
def vast() -> Iterator[FakeVastServer]:
    with FakeVastServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def api(vast: FakeVastServer) -> Iterator[VastClient]:
    with VastClient(KEY, base_url=vast.base_url, retry_backoff_s=0.001, request_timeout_s=5) as client:
        yield client


def test_search_posts_the_documented_filter_shape_to_bundles(vast: FakeVastServer, api: VastClient) -> None:
    api.search_offers(TWO_4090)

    (request,) = vast.requests
    assert (request.method, request.path) == ("POST", "/api/v0/bundles/")
    assert request.body["gpu_name"] == {"eq": "RTX 4090"}
    assert request.body["num_gpus"] == {"eq": 2}
    assert request.body["reliability"] == {"gte": 0.98}
    assert request.body["dph_total"] == {"lte": 1.5}
    assert request.body["vms_enabled"] == {"eq": True}
    assert request.body["disk_space"] == {"gte": 200}
    assert request.body["rentable"] == {"eq": True} and request.body["verified"] == {"eq": True}
    assert request.body["order"] == [["dph_total", "asc"]]
    assert request.body["allocated_storage"] == 200
    assert "geolocation" not in request.body


def test_search_returns_only_matching_vm_capable_offers_cheapest_first(api: VastClient) -> None:
    offers = api.search_offers(TWO_4090)

    # 5002 is cheaper but not VM-capable, 5003 unreliable, 5004 too dear, 5005 has 4 GPUs, 5007 is an A100.
    assert [o.id for o in offers] == [5001, 5006, 5008]
    assert all(o.vms_enabled and o.num_gpus == 2 and o.gpu_name == "RTX 4090" for o in offers)
    assert offers[0].dph_total == 0.72 and offers[0].geolocation == "Washington, US"


def test_search_by_region_sends_country_codes_and_keeps_only_those_countries(
    vast: FakeVastServer, api: VastClient
) -> None:
    offers = api.search_offers(OfferFilters(**{**TWO_4090.__dict__, "regions": ("CA", "DE")}))

    assert vast.requests[0].body["geolocation"] == {"in": ["CA", "DE"]}
    assert [o.id for o in offers] == [5006, 5008]


def test_search_with_no_match_returns_an_empty_list(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.no_matching_offers = True
    assert api.search_offers(TWO_4090) == []


def test_offers_the_server_should_not_have_returned_are_dropped() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"offers": default_offers()})  # a server that ignores filters

    with VastClient(KEY, transport=httpx.MockTransport(handler)) as client:
        assert [o.id for o in client.search_offers(TWO_4090)] == [5001, 5006, 5008]


def test_the_key_travels_only_as_a_bearer_header(vast: FakeVastServer, api: VastClient) -> None:
    offer = api.search_offers(TWO_4090)[0]
    instance_id = api.create_instance(offer.id, image=KVM, disk_gb=200, label="t")
    api.show_instance(instance_id)
    api.destroy_instance(instance_id)

    assert len(vast.requests) == 4
    for request in vast.requests:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert KEY not in request.raw_url and "api_key" not in request.query
        assert KEY not in repr(request.body)
    assert KEY not in repr(api)


def test_a_wrong_key_is_an_auth_error_on_every_endpoint_without_the_key_in_the_message(vast: FakeVastServer) -> None:
    vast.knobs.echo_key_in_errors = True
    wrong = "wrong-" + secrets.token_hex(8)
    with VastClient(wrong, base_url=vast.base_url, retry_backoff_s=0.001) as client:
        calls = [
            lambda: client.search_offers(TWO_4090),  # Vast answers 404 "Invalid user key" here
            lambda: client.create_instance(5001, image=KVM, disk_gb=200),
            lambda: client.show_instance(1),
            lambda: client.destroy_instance(1),  # a 404 that is really a bad key is not "already gone"
        ]
        for call in calls:
            with pytest.raises(VastAuthError) as info:
                call()
            assert wrong not in str(info.value) and API_KEY_ENV in str(info.value)


def test_the_key_comes_from_the_environment_when_the_client_is_made(vast: FakeVastServer) -> None:
    env = {API_KEY_ENV: KEY, BASE_URL_ENV: vast.base_url}
    with VastClient.from_env(env) as client:
        assert client.base_url == vast.base_url
        assert client.search_offers(TWO_4090)


def test_a_missing_key_is_a_config_error_that_says_which_variable_to_set() -> None:
    with pytest.raises(VastConfigError, match=API_KEY_ENV):
        VastClient.from_env({})
    with pytest.raises(VastConfigError, match=API_KEY_ENV):
        VastClient.from_env({API_KEY_ENV: "   "})


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://console.vast.ai", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:1", True),
        ("http://[::1]:9", True),
        ("http://console.vast.ai", False),
        ("ftp://127.0.0.1", False),
        ("console.vast.ai", False),
    ],
)
def test_the_base_url_must_not_send_the_key_in_clear_text_off_this_machine(url: str, ok: bool) -> None:
    if ok:
        VastClient(KEY, base_url=url).close()
    else:
        with pytest.raises(VastConfigError):
            VastClient(KEY, base_url=url)


def test_the_client_refuses_to_be_pickled(api: VastClient) -> None:
    with pytest.raises(TypeError, match="never be pickled"):
        pickle.dumps(api)


def test_create_sends_a_vm_rent_and_returns_the_new_contract(vast: FakeVastServer, api: VastClient) -> None:
    instance_id = api.create_instance(
        5001, image=KVM, disk_gb=200, label="llmp-test", onstart="echo hi", env={"-p 6443:6443": "1"}
    )

    request = vast.requests[-1]
    assert (request.method, request.path) == ("PUT", "/api/v0/asks/5001/")
    assert request.body["vm"] is True
    assert request.body["image"] == KVM and request.body["disk"] == 200 and request.body["runtype"] == "ssh"
    assert request.body["label"] == "llmp-test" and request.body["onstart"] == "echo hi"
    assert request.body["env"] == {"-p 6443:6443": "1"}
    assert request.body["target_state"] == "running" and request.body["cancel_unavail"] is True
    assert instance_id in vast.live_instances()


def test_renting_a_taken_offer_is_offer_unavailable(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.unavailable_offer_ids.add(5001)
    with pytest.raises(VastOfferUnavailableError, match="5001") as info:
        api.create_instance(5001, image=KVM, disk_gb=200)
    assert info.value.status == 410
    with pytest.raises(VastOfferUnavailableError) as missing:
        api.create_instance(999, image=KVM, disk_gb=200)
    assert missing.value.status == 404


def test_renting_a_vm_without_an_ssh_key_says_how_to_fix_it(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.no_ssh_key_for_vm = True
    with pytest.raises(VastApiError, match="SSH public key") as info:
        api.create_instance(5001, image=KVM, disk_gb=200)
    assert info.value.error == "no_ssh_key_for_vm"
    assert vast.live_instances() == {}


def test_a_rent_is_never_retried_after_a_gateway_error(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.create_status = 503  # the rent may have gone through: retrying could rent twice
    with pytest.raises(VastApiError, match="HTTP 503"):
        api.create_instance(5001, image=KVM, disk_gb=200)
    assert vast.calls().count("PUT /api/v0/asks/5001/") == 1


def test_rate_limited_requests_are_retried_with_bounded_attempts(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.rate_limit_next = 2
    assert api.search_offers(TWO_4090)
    assert vast.calls().count("POST /api/v0/bundles/") == 3

    vast.knobs.rate_limit_next = 100
    with pytest.raises(VastApiError, match="rate-limited after 4 attempts"):
        api.search_offers(TWO_4090)


def test_show_reports_the_instance_and_gone_instances_raise(vast: FakeVastServer, api: VastClient) -> None:
    instance_id = api.create_instance(5001, image=KVM, disk_gb=200, label="x")
    instance = api.show_instance(instance_id)
    assert instance.id == instance_id and instance.label == "x" and instance.actual_status is None
    assert vast.requests[-1].path == f"/api/v0/instances/{instance_id}/"
    with pytest.raises(VastInstanceGoneError):
        api.show_instance(424242)


def test_wait_running_polls_until_running_and_returns_connection_facts(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.polls_until_running = 3
    instance_id = api.create_instance(5001, image=KVM, disk_gb=200)
    seen: list[str | None] = []

    instance = api.wait_running(
        instance_id, timeout_s=5, poll_interval_s=0.01, on_poll=lambda i: seen.append(i.actual_status)
    )

    assert seen == [None, "loading", "running"]
    assert instance.actual_status == "running"
    assert instance.ssh_host and instance.ssh_port and instance.public_ip == "203.0.113.1"
    assert (instance.gpu_name, instance.num_gpus, instance.dph_total) == ("RTX 4090", 2, 0.72)


def test_wait_running_gives_up_at_the_timeout_with_the_last_status(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.never_running = True
    instance_id = api.create_instance(5001, image=KVM, disk_gb=200)
    with pytest.raises(VastTimeoutError, match="last status 'loading'"):
        api.wait_running(instance_id, timeout_s=0.2, poll_interval_s=0.02)


def test_wait_running_stops_at_a_failed_status_with_vasts_message(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.fail_after_rent = "exited"
    instance_id = api.create_instance(5001, image=KVM, disk_gb=200)
    with pytest.raises(VastInstanceFailedError, match=r"'exited'.*kvm not available"):
        api.wait_running(instance_id, timeout_s=5, poll_interval_s=0.01)


def test_wait_running_rejects_unbounded_waits(api: VastClient) -> None:
    with pytest.raises(ValueError):
        api.wait_running(1, timeout_s=0, poll_interval_s=1)


def test_destroy_returns_true_then_false_once_the_instance_is_gone(vast: FakeVastServer, api: VastClient) -> None:
    instance_id = api.create_instance(5001, image=KVM, disk_gb=200)

    assert api.destroy_instance(instance_id) is True
    assert api.destroy_instance(instance_id) is False  # 404 not_found: already gone

    deletes = [r for r in vast.requests if r.method == "DELETE"]
    assert [r.path for r in deletes] == [f"/api/v0/instances/{instance_id}/"] * 2
    assert vast.live_instances() == {}


def test_a_failing_destroy_raises_with_the_status(vast: FakeVastServer, api: VastClient) -> None:
    instance_id = api.create_instance(5001, image=KVM, disk_gb=200)
    vast.knobs.destroy_status = 500
    with pytest.raises(VastApiError, match=f"destroy instance {instance_id}: HTTP 500"):
        api.destroy_instance(instance_id)
    assert instance_id in vast.live_instances()


def test_error_messages_redact_a_key_the_server_echoes(vast: FakeVastServer, api: VastClient) -> None:
    vast.knobs.echo_key_in_errors = True
    vast.knobs.create_status = 500
    with pytest.raises(VastApiError) as info:
        api.create_instance(5001, image=KVM, disk_gb=200)
    assert KEY not in str(info.value) and "<redacted VAST_API_KEY>" in str(info.value)


def test_transport_failures_of_a_rent_warn_that_it_may_have_happened() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with VastClient(KEY, transport=httpx.MockTransport(handler), retry_backoff_s=0.001) as client:
        with pytest.raises(VastApiError, match="may have reached Vast"):
            client.create_instance(5001, image=KVM, disk_gb=200)
        with pytest.raises(VastApiError, match="after 4 attempt"):
            client.show_instance(1)


def test_gpu_names_accept_the_cli_underscore_spelling() -> None:
    assert canonical_gpu_name("RTX_4090") == "RTX 4090"
    assert canonical_gpu_name(" A100_SXM4 ") == "A100 SXM4"
    assert canonical_gpu_name("H100 NVL") == "H100 NVL"


@pytest.fixture(scope="module")
def market() -> Iterator[tuple[FakeVastServer, VastClient]]:
    with FakeVastServer(api_key=KEY) as server, VastClient(KEY, base_url=server.base_url) as client:
        yield server, client


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    gpu=st.sampled_from(["RTX_4090", "RTX 4090", "A100_SXM4", "H100 SXM"]),
    num_gpus=st.integers(1, 5),
    min_reliability=st.floats(0.8, 1.0),
    max_dph=st.floats(0.1, 3.0),
    disk=st.integers(8, 600),
    regions=st.sampled_from([(), ("US",), ("CA",), ("CA", "DE")]),
)
def test_every_offer_returned_satisfies_the_filters_and_none_is_missed(
    market: tuple[FakeVastServer, VastClient],
    gpu: str,
    num_gpus: int,
    min_reliability: float,
    max_dph: float,
    disk: int,
    regions: tuple[str, ...],
) -> None:
    _server, client = market
    filters = OfferFilters(
        gpu_name=gpu,
        num_gpus=num_gpus,
        min_reliability=min_reliability,
        max_dph_usd=max_dph,
        min_disk_gb=disk,
        regions=regions,
    )
    expected = sorted(o.id for o in map(Offer.from_json, default_offers()) if o.satisfies(filters))

    offers = client.search_offers(filters)

    assert sorted(o.id for o in offers) == expected
    assert [o.dph_total for o in offers] == sorted(o.dph_total for o in offers)
