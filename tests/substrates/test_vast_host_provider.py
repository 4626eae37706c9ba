"""VastHost's dynamic provider run directly against the local fake Vast API (dynamic providers never
run under Pulumi mocks), plus the resource's registration under mocks and the provider's pickling."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import dill
import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.errors import InputPropertiesError

from tests.support.gates import REPO_ROOT
from substrates.vast.api import (
    API_KEY_ENV,
    BASE_URL_ENV,
    VastAuthError,
    VastClient,
    VastConfigError,
    VastInstanceFailedError,
    VastInstanceGoneError,
    VastNoOffersError,
    VastTimeoutError,
)
from tests.support.vast_fake_server import FakeVastServer
from substrates.vast.host import (
    DEFAULT_IMAGE,
    INPUT_KEYS,
    OUTPUT_KEYS,
    VastHost,
    VastHostArgs,
    VastHostProvider,
)

KEY = "vast-test-key-" + secrets.token_hex(16)
ARGS = VastHostArgs(
    gpu_name="RTX_4090", num_gpus=2, min_reliability=0.98, max_dph_usd=1.5, disk_gb=200, label="llmp-test"
)


def wire(value: Any) -> Any:
    """What Pulumi hands a dynamic provider: numbers as floats, tuples as lists, plus `__provider`."""
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def props_of(args: VastHostArgs) -> dict[str, Any]:
    return {**wire(args.to_props()), "__provider": "c2VyaWFsaXplZA=="}


def fast_provider(**overrides: Any) -> VastHostProvider:
    settings_ = {"ready_timeout_s": 2.0, "poll_interval_s": 0.01, "retry_backoff_s": 0.001, **overrides}
    return VastHostProvider(**settings_)


@pytest.fixture
def vast(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVastServer]:
    with FakeVastServer(api_key=KEY) as server:
        monkeypatch.setenv(API_KEY_ENV, KEY)
        monkeypatch.setenv(BASE_URL_ENV, server.base_url)
        yield server


# -- create ---------------------------------------------------------------------------------------


def test_create_rents_the_cheapest_vm_capable_match_and_reports_the_machine(vast: FakeVastServer) -> None:
    result = fast_provider().create(props_of(ARGS))

    assert vast.calls()[:2] == ["POST /api/v0/bundles/", "PUT /api/v0/asks/5001/"]
    assert all(call == f"GET /api/v0/instances/{result.id}/" for call in vast.calls()[2:])
    rent = vast.requests[1].body
    assert (
        rent["vm"] is True and rent["image"] == DEFAULT_IMAGE and rent["disk"] == 200 and rent["label"] == "llmp-test"
    )
    outs = result.outs
    assert outs["instance_id"] == result.id and int(result.id) in vast.live_instances()
    assert (outs["offer_id"], outs["dph_total"], outs["gpu_name"], outs["num_gpus"]) == (5001, 0.72, "RTX 4090", 2)
    assert outs["ssh_host"] and outs["ssh_port"] and outs["public_ip"] == "203.0.113.1"
    assert outs["machine_id"] == 1001 and outs["geolocation"] == "Washington, US" and outs["cuda_max_good"] == 12.4
    assert set(OUTPUT_KEYS) <= set(outs) and set(INPUT_KEYS) <= set(outs)


def test_create_honours_the_region_and_exposes_ports(vast: FakeVastServer) -> None:
    args = dataclasses.replace(ARGS, region=("CA",), ports=(6443,))
    outs = fast_provider().create(props_of(args)).outs

    assert outs["offer_id"] == 5006 and outs["geolocation"] == "Ontario, CA"
    assert vast.requests[1].body["env"] == {"-p 6443:6443": "1"}


def test_create_moves_to_the_next_offer_when_the_cheapest_is_taken_meanwhile(vast: FakeVastServer) -> None:
    vast.knobs.unavailable_offer_ids.add(5001)
    outs = fast_provider().create(props_of(ARGS)).outs

    assert outs["offer_id"] == 5006
    assert vast.calls()[1:3] == ["PUT /api/v0/asks/5001/", "PUT /api/v0/asks/5006/"]


def test_create_with_no_matching_offer_rents_nothing_and_says_what_was_searched(vast: FakeVastServer) -> None:
    vast.knobs.no_matching_offers = True
    with pytest.raises(VastNoOffersError, match=r"2x RTX 4090 on VM-capable hosts.*\$1.5/h.*nothing was rented"):
        fast_provider().create(props_of(ARGS))
    assert [r.method for r in vast.requests] == ["POST"]


@pytest.mark.parametrize(
    ("knob", "error"),
    [
        ("fail_after_rent", VastInstanceFailedError),
        ("never_running", VastTimeoutError),
        ("vanish_after_rent", VastInstanceGoneError),
    ],
)
def test_a_failure_after_renting_destroys_the_rental_then_reraises_the_original_error(
    vast: FakeVastServer, knob: str, error: type[Exception]
) -> None:
    setattr(vast.knobs, knob, "exited" if knob == "fail_after_rent" else True)

    with pytest.raises(error) as info:
        fast_provider(ready_timeout_s=0.2).create(props_of(ARGS))

    assert vast.live_instances() == {}
    instance_id = 1_000_001
    assert vast.calls()[-1] == f"DELETE /api/v0/instances/{instance_id}/"
    assert f"Vast instance {instance_id} was rented and has been destroyed again" in "\n".join(info.value.__notes__)


def test_an_interrupted_wait_still_destroys_the_rental(vast: FakeVastServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: VastClient, instance_id: int, **_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(VastClient, "wait_running", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fast_provider().create(props_of(ARGS))
    assert vast.live_instances() == {} and vast.destroyed == [1_000_001]


def test_when_the_cleanup_destroy_fails_too_the_original_error_names_the_billing_instance(vast: FakeVastServer) -> None:
    vast.knobs.fail_after_rent = "exited"
    vast.knobs.destroy_status = 500

    with pytest.raises(VastInstanceFailedError) as info:
        fast_provider().create(props_of(ARGS))

    notes = "\n".join(info.value.__notes__)
    assert "1000001" in notes and "MAY STILL BE BILLING" in notes and "vastai destroy instance 1000001" in notes
    assert list(vast.live_instances()) == [1_000_001]


# -- delete ---------------------------------------------------------------------------------------


def test_delete_destroys_the_instance(vast: FakeVastServer) -> None:
    provider = fast_provider()
    result = provider.create(props_of(ARGS))

    provider.delete(result.id, {**result.outs, "__provider": "x"})

    assert vast.live_instances() == {} and vast.calls()[-1] == f"DELETE /api/v0/instances/{result.id}/"


def test_deleting_an_instance_vast_no_longer_has_succeeds(vast: FakeVastServer) -> None:
    fast_provider().delete("1234567", props_of(ARGS))  # 404 not_found
    vast.knobs.destroy_404 = True
    fast_provider().delete("1000001", props_of(ARGS))
    assert vast.calls() == ["DELETE /api/v0/instances/1234567/", "DELETE /api/v0/instances/1000001/"]


def test_delete_with_a_bad_key_fails_instead_of_forgetting_a_billing_host(
    vast: FakeVastServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = fast_provider().create(props_of(ARGS))
    monkeypatch.setenv(API_KEY_ENV, "revoked-" + secrets.token_hex(8))

    with pytest.raises(VastAuthError):
        fast_provider().delete(result.id, result.outs)
    assert int(result.id) in vast.live_instances()


def test_delete_without_a_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    with pytest.raises(VastConfigError, match=API_KEY_ENV):
        fast_provider().delete("1000001", {})


# -- diff, check, update -------------------------------------------------------------------------


def test_identical_inputs_diff_as_no_change(vast: FakeVastServer) -> None:
    outs = fast_provider().create(props_of(ARGS)).outs
    result = fast_provider().diff("1000001", {**outs, "__provider": "old"}, {**props_of(ARGS), "__provider": "new"})

    # gpu_name is "RTX 4090" in state and "RTX_4090" in the inputs; numbers are floats on the wire.
    assert result.changes is False and result.replaces == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gpu_name", "RTX_5090"),
        ("num_gpus", 4),
        ("min_reliability", 0.99),
        ("max_dph_usd", 2.0),
        ("disk_gb", 300),
        ("image", "docker.io/vastai/kvm:ubuntu_desktop"),
        ("region", ("US",)),
        ("label", "other"),
        ("onstart", "curl -sfL https://get.k3s.io | sh -"),
        ("ports", (6443,)),
    ],
)
def test_any_input_change_replaces_the_host_deleting_the_old_one_first(field: str, value: Any) -> None:
    changed = dataclasses.replace(ARGS, **{field: value})

    result = VastHostProvider().diff("1", props_of(ARGS), props_of(changed))

    assert result.changes is True and result.replaces == [field] and result.delete_before_replace is True


def test_an_unknown_input_during_preview_replaces() -> None:
    news = {**props_of(ARGS), "max_dph_usd": pulumi.runtime.rpc.UNKNOWN}
    assert VastHostProvider().diff("1", props_of(ARGS), news).replaces == ["max_dph_usd"]


def test_region_order_and_provider_changes_are_not_changes() -> None:
    a = dataclasses.replace(ARGS, region=("US", "CA"))
    b = dataclasses.replace(ARGS, region=("CA", "US"))
    result = VastHostProvider().diff("1", {**props_of(a), "__provider": "v1"}, {**props_of(b), "__provider": "v2"})
    assert result.changes is False


valid_args = st.builds(
    VastHostArgs,
    gpu_name=st.sampled_from(["RTX_4090", "RTX 4090", "A100_SXM4", "H100 NVL"]),
    num_gpus=st.integers(1, 16),
    max_dph_usd=st.floats(0.01, 100, allow_nan=False),
    min_reliability=st.floats(0, 1),
    disk_gb=st.integers(8, 4000),
    region=st.none()
    | st.lists(st.sampled_from(["US", "CA", "DE", "SE"]), min_size=1, max_size=3, unique=True).map(tuple),
    label=st.none() | st.text(min_size=1, max_size=20),
    ports=st.lists(st.integers(1, 65535), max_size=3).map(tuple),
)


@settings(max_examples=100, deadline=None)
@given(args=valid_args)
def test_inputs_survive_the_wire_unchanged_so_a_noop_update_never_replaces(args: VastHostArgs) -> None:
    assert args.problems() == []
    assert VastHostArgs.from_props(props_of(args)) == args
    assert VastHostProvider().diff("1", props_of(args), props_of(args)).changes is False


def test_check_reports_every_bad_input_by_property() -> None:
    bad = dataclasses.replace(ARGS, num_gpus=0, min_reliability=1.5, image="ubuntu:22.04", region=("usa",), disk_gb=4)

    result = VastHostProvider().check({}, props_of(bad))

    assert sorted(f.property for f in result.failures) == ["disk_gb", "image", "min_reliability", "num_gpus", "region"]
    assert any("docker.io/vastai/kvm:" in f.reason for f in result.failures)
    assert VastHostProvider().check({}, props_of(ARGS)).failures == []


def test_check_reports_malformed_values_instead_of_crashing() -> None:
    result = VastHostProvider().check({}, {**props_of(ARGS), "num_gpus": 2.5})
    assert len(result.failures) == 1 and "whole number" in result.failures[0].reason


def test_update_is_never_in_place() -> None:
    with pytest.raises(NotImplementedError, match="replaces"):
        VastHostProvider().update("1", props_of(ARGS), props_of(ARGS))


# -- the API key: read at call time, never stored -------------------------------------------------


def test_the_key_is_read_from_the_environment_when_the_provider_calls_vast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    provider = fast_provider()  # made while no key exists, as in `pulumi preview` on a CI runner
    rotated = "rotated-" + secrets.token_hex(16)

    with FakeVastServer(api_key=rotated) as server:
        monkeypatch.setenv(BASE_URL_ENV, server.base_url)
        monkeypatch.setenv(API_KEY_ENV, rotated)
        result = provider.create(props_of(ARGS))

    assert all(r.headers["authorization"] == f"Bearer {rotated}" for r in server.requests)
    assert not any(rotated in repr(value) for value in vars(provider).values())
    assert rotated not in json.dumps(result.outs)


def test_the_provider_pickles_like_pulumi_does_without_the_key_and_still_works(vast: FakeVastServer) -> None:
    provider = fast_provider()

    blob = serialize_provider(provider)  # what Pulumi stores in state as `__provider`
    raw = base64.b64decode(blob)
    restored = dill.loads(raw)

    assert KEY not in blob and KEY.encode() not in raw
    # Pickled by reference: the module path is the state contract the class docstring promises.
    assert b"substrates.vast.host" in raw and b"VastHostProvider" in raw
    assert type(restored) is VastHostProvider and vars(restored) == vars(provider)
    result = restored.create(props_of(ARGS))
    restored.delete(result.id, result.outs)
    assert KEY not in json.dumps(result.outs) and KEY not in json.dumps(props_of(ARGS))
    assert vast.live_instances() == {}


def test_no_request_body_or_output_carries_the_key(vast: FakeVastServer) -> None:
    provider = fast_provider()
    result = provider.create(props_of(ARGS))
    provider.diff(result.id, result.outs, props_of(ARGS))
    provider.delete(result.id, result.outs)

    assert KEY not in json.dumps(result.outs)
    for request in vast.requests:
        assert KEY not in json.dumps(request.body) and KEY not in request.raw_url


# -- the resource, under mocks --------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


@pulumi.runtime.test
def test_vast_host_registers_its_own_type_with_no_key_anywhere_in_its_state(
    recorder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    host = VastHost("gpu-host", dataclasses.replace(ARGS, label=None), poll_interval_s=0.5)

    def check(_: Any) -> None:
        (reg,) = recorder.of_type("pulumi-python:dynamic/llmplatform/vast:VastHost")
        assert reg.type == VastHost.TYPE_TOKEN and reg.custom
        inputs = recorder.inputs(reg)
        assert inputs["label"] == "gpu-host" and inputs["gpu_name"] == "RTX_4090" and inputs["num_gpus"] == 2
        assert "__provider" in reg.inputs
        texts = list(_strings(reg.inputs)) + list(_strings(reg.outputs))
        assert not any(KEY in text for text in texts)
        blobs = [base64.b64decode(t) for t in texts if len(t) > 200]
        assert blobs and all(KEY.encode() not in blob and b"substrates.vast.host" in blob for blob in blobs)
        restored = dill.loads(blobs[0])
        assert isinstance(restored, VastHostProvider) and restored.poll_interval_s == 0.5

    return host.urn.apply(check)


def test_vast_host_reports_every_invalid_input_at_once() -> None:
    bad = dataclasses.replace(ARGS, num_gpus=0, max_dph_usd=-1, image="ubuntu:22.04")
    with pytest.raises(InputPropertiesError) as info:
        VastHost("bad", bad)
    assert sorted(e["property_path"] for e in info.value.errors) == ["image", "max_dph_usd", "num_gpus"]


def test_importing_the_vast_modules_reads_no_vast_setting_and_opens_no_socket() -> None:
    probe = textwrap.dedent(
        """
        import os, socket, sys

        read = []

        class Spy(dict):
            def get(self, key, default=None):
                read.append(key)
                return super().get(key, default)

            def __getitem__(self, key):
                read.append(key)
                return super().__getitem__(key)

        def refuse(*_args, **_kwargs):
            raise AssertionError("a socket was opened at import time")

        os.environ = Spy(os.environ)
        socket.socket.connect = socket.socket.bind = refuse
        import substrates.vast, substrates.vast.api, substrates.vast.host, tests.support.vast_fake_server
        vast_reads = [k for k in read if k.startswith("VAST")]
        sys.exit(f"read {vast_reads} at import time" if vast_reads else 0)
        """
    )
    env = {**os.environ, API_KEY_ENV: KEY, BASE_URL_ENV: "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
