"""`VastHost`: one rented Vast.ai multi-GPU VM, as a Pulumi dynamic resource.

What it does. `pulumi up` searches Vast's marketplace for the cheapest offer that matches the filters
(GPU model, exact GPU count, minimum reliability, maximum total $/hour, enough disk, optional
countries, and VM-capable hosts only, because k3s needs systemd and nested containers, which Vast's
Docker instances lack), rents it as a VM, and waits until Vast reports it `running`. `pulumi destroy`
destroys the rental; an instance Vast no longer has (404) counts as destroyed. Any input change
replaces the host (Vast cannot re-shape a rental), deleting the old one first.

What it costs. Billing starts at the rent call and runs until the instance is destroyed: the hourly
price of the offer (`dph_total`, GPUs plus the allocated disk, capped by `max_dph_usd`) and, on Vast,
storage even while an instance is stopped. Nothing here stops or expires a rental: a forgotten stack
keeps billing, so run `pulumi destroy` when a validation run ends. If anything fails after the rent
(the VM errors, never boots within the timeout, or the run is interrupted), the provider destroys the
rental before re-raising, so a failed `up` does not leave a paid, unmanaged machine behind; if even
that destroy fails, the error says which instance id may still be billing.

The API key. It is read from `VAST_API_KEY` in the environment of the process that runs the provider
(the one that runs `pulumi up`/`destroy`) each time the provider calls Vast. It is never an input, an
output, or a field of the provider object, so it never reaches the Pulumi state (the provider is
pickled into state; see `VastHostProvider`).

Not supported: `pulumi refresh` sees no drift (dynamic providers' `read` is not implemented here), and
`pulumi import`/`VastHost.get` of an existing rental.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from llmplatform.problems import Problem, raise_problems
from substrates.vast.api import (
    CONSOLE_INSTANCES_URL,
    Instance,
    Offer,
    OfferFilters,
    VastClient,
    VastNoOffersError,
    VastOfferUnavailableError,
    canonical_gpu_name,
    describe_filters,
)

KVM_IMAGE_PREFIX = "docker.io/vastai/kvm:"
"""Vast runs a VM only from its own KVM images, named in full (guides/instances/virtual-machines)."""
DEFAULT_IMAGE = "docker.io/vastai/kvm:ubuntu_terminal"
"""The VM image Vast's docs use as their example: an Ubuntu server VM reached over SSH."""

_MIN_DISK_GB = 8  # create_instance.yaml x-input-validation: disk min 8
_MAX_LABEL_CHARS = 256
_MAX_ONSTART_CHARS = 4096
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_PROVIDER_KEY = "__provider"


@dataclass(frozen=True, kw_only=True)
class VastHostArgs:
    """What to rent. Every field is an input of the resource; changing any of them replaces the host."""

    gpu_name: str
    """GPU model as Vast names it; underscores stand for spaces (`RTX_4090` == `RTX 4090`, `A100_SXM4`)."""
    num_gpus: int
    """Exact number of GPUs on the machine, >= 1 (offers with more are not considered)."""
    max_dph_usd: float
    """Highest acceptable total price, USD per hour, for the whole rental (GPUs + allocated disk). > 0."""
    min_reliability: float = 0.98
    """Lowest acceptable Vast reliability score, 0..1."""
    disk_gb: int = 200
    """Disk allocated to the VM, GB (>= 8); fixed for the rental's life and billed while it exists."""
    image: str = DEFAULT_IMAGE
    """VM image; must be one of Vast's `docker.io/vastai/kvm:*` images (others do not boot as a VM)."""
    region: tuple[str, ...] | None = None
    """Two-letter country codes the host may be in (e.g. ("US", "CA")); None: anywhere."""
    label: str | None = None
    """Label shown on Vast's console (find strays by it); None: the resource's logical name."""
    onstart: str | None = None
    """Shell run inside the VM at first boot (e.g. install k3s). Stored in state: put no secrets here."""
    ports: tuple[int, ...] = ()
    """Extra TCP ports to expose (e.g. 6443 for the k3s API); Vast maps each to a public host port."""

    def problems(self) -> list[tuple[str, str]]:
        """Every invalid field as (property, reason); empty when the args are usable."""
        found: list[tuple[str, str]] = []
        if not isinstance(self.gpu_name, str) or not canonical_gpu_name(self.gpu_name):
            found.append(("gpu_name", "must name a GPU model, e.g. RTX_4090"))
        if isinstance(self.num_gpus, bool) or not isinstance(self.num_gpus, int) or self.num_gpus < 1:
            found.append(("num_gpus", f"must be an integer >= 1, got {self.num_gpus!r}"))
        if not _finite(self.min_reliability) or not 0 <= self.min_reliability <= 1:
            found.append(("min_reliability", f"must be between 0 and 1, got {self.min_reliability!r}"))
        if not _finite(self.max_dph_usd) or self.max_dph_usd <= 0:
            found.append(("max_dph_usd", f"must be a price in USD/hour > 0, got {self.max_dph_usd!r}"))
        if isinstance(self.disk_gb, bool) or not isinstance(self.disk_gb, int) or self.disk_gb < _MIN_DISK_GB:
            found.append(("disk_gb", f"must be an integer >= {_MIN_DISK_GB} (Vast's minimum), got {self.disk_gb!r}"))
        if (
            not isinstance(self.image, str)
            or len(self.image) <= len(KVM_IMAGE_PREFIX)
            or not self.image.startswith(KVM_IMAGE_PREFIX)
        ):
            found.append(
                (
                    "image",
                    f"must be a Vast VM image {KVM_IMAGE_PREFIX}<tag> (e.g. {DEFAULT_IMAGE}); got {self.image!r}: "
                    "only VMs give k3s systemd and nested containers",
                )
            )
        if self.region is not None:
            bad = [r for r in self.region if not _COUNTRY.match(r)]
            if not self.region or bad:
                found.append(
                    (
                        "region",
                        f"must be two-letter upper-case country codes, or None for anywhere; got {list(self.region)!r}",
                    )
                )
        if self.label is not None and not 0 < len(self.label) <= _MAX_LABEL_CHARS:
            found.append(("label", f"must be 1-{_MAX_LABEL_CHARS} characters, or None for the resource name"))
        if self.onstart is not None and len(self.onstart) > _MAX_ONSTART_CHARS:
            found.append(("onstart", f"is {len(self.onstart)} characters; Vast accepts at most {_MAX_ONSTART_CHARS}"))
        bad_ports = [p for p in self.ports if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535]
        if bad_ports:
            found.append(("ports", f"must be TCP ports 1-65535, got {bad_ports!r}"))
        return found

    def offer_filters(self) -> OfferFilters:
        return OfferFilters(
            gpu_name=self.gpu_name,
            num_gpus=self.num_gpus,
            min_reliability=self.min_reliability,
            max_dph_usd=self.max_dph_usd,
            min_disk_gb=self.disk_gb,
            regions=self.region or (),
            vms_only=True,
        )

    def to_props(self) -> dict[str, Any]:
        """The resource inputs (snake_case keys; tuples as lists, as Pulumi stores them)."""
        props = dataclasses.asdict(self)
        props["region"] = None if self.region is None else list(self.region)
        props["ports"] = list(self.ports)
        return props

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> VastHostArgs:
        """Inverse of `to_props`, tolerant of the wire: numbers arrive as floats, tuples as lists, and
        output keys and `__provider` sit beside the inputs. Raises ValueError/TypeError on bad types."""
        names = {f.name for f in dataclasses.fields(cls)}
        raw = {k: v for k, v in props.items() if k in names and v is not None}
        for key in ("num_gpus", "disk_gb"):
            if key in raw:
                raw[key] = _as_int(raw[key], key)
        for key in ("min_reliability", "max_dph_usd"):
            if key in raw:
                raw[key] = float(raw[key])
        if "region" in raw:
            raw["region"] = tuple(str(r) for r in raw["region"])
        if "ports" in raw:
            raw["ports"] = tuple(_as_int(p, "ports") for p in raw["ports"])
        return cls(**raw)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what} must be a whole number, got {value!r}")
        return int(value)
    return int(value)


INPUT_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(VastHostArgs))
OUTPUT_KEYS: tuple[str, ...] = (
    "instance_id",
    "offer_id",
    "public_ip",
    "ssh_host",
    "ssh_port",
    "dph_total",
    "machine_id",
    "host_id",
    "geolocation",
    "reliability",
    "gpu_ram_mb",
    "cpu_ram_mb",
    "cpu_cores_effective",
    "cuda_max_good",
    "driver_version",
)
"""Outputs besides the inputs. `gpu_name` and `num_gpus` are outputs too: the rented machine's values,
which equal the filters (offers are checked against them), so `diff` sees no change."""


class VastHostProvider(pulumi.dynamic.ResourceProvider):
    """Create/delete/diff for `VastHost`. Update is always a replacement.

    State contract: Pulumi pickles this object (dill, by reference to its class) into every
    `VastHost`'s state as `__provider`, and `pulumi destroy` unpickles it to call `delete`. The class
    must therefore stay importable as `substrates.vast.host.VastHostProvider` with a compatible
    `__init__`/attributes: moving or renaming it breaks destroy for existing stacks. Its attributes
    are timing knobs only; the API key is read from the environment at call time (never stored here).
    """

    def __init__(
        self,
        *,
        ready_timeout_s: float = 1200.0,
        poll_interval_s: float = 10.0,
        max_offer_attempts: int = 3,
        request_timeout_s: float = 30.0,
        retry_backoff_s: float = 1.0,
    ) -> None:
        """
        :param ready_timeout_s: how long to wait for `running` after renting (VMs boot in minutes).
        :param poll_interval_s: pause between status polls while waiting.
        :param max_offer_attempts: offers tried in price order when the cheapest is taken meanwhile.
        :param request_timeout_s: per-HTTP-request timeout.
        :param retry_backoff_s: first pause before retrying a rate-limited request (doubles).
        """
        super().__init__()
        self.ready_timeout_s = float(ready_timeout_s)
        self.poll_interval_s = float(poll_interval_s)
        self.max_offer_attempts = int(max_offer_attempts)
        self.request_timeout_s = float(request_timeout_s)
        self.retry_backoff_s = float(retry_backoff_s)

    def _client(self) -> VastClient:
        return VastClient.from_env(request_timeout_s=self.request_timeout_s, retry_backoff_s=self.retry_backoff_s)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        try:
            args = VastHostArgs.from_props(news)
        except (TypeError, ValueError) as exc:
            return pulumi.dynamic.CheckResult(news, [pulumi.dynamic.CheckFailure("", str(exc))])
        failures = [pulumi.dynamic.CheckFailure(prop, reason) for prop, reason in args.problems()]
        return pulumi.dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = _changed_inputs(olds, news)
        # Delete first: a second rental would bill twice, and k3s on the new host starts fresh anyway.
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        args = VastHostArgs.from_props(props)
        problems = args.problems()
        if problems:
            raise ValueError("invalid VastHost inputs: " + "; ".join(f"{p}: {r}" for p, r in problems))
        filters = args.offer_filters()
        with self._client() as api:
            offers = api.search_offers(filters)
            if not offers:
                raise VastNoOffersError(
                    f"no Vast offer matches: {describe_filters(filters)}. Raise max_dph_usd, lower "
                    "min_reliability, allow more regions, or try another gpu_name; nothing was rented."
                )
            offer, instance_id = self._rent(api, args, offers)
            try:
                instance = api.wait_running(
                    instance_id, timeout_s=self.ready_timeout_s, poll_interval_s=self.poll_interval_s
                )
                outs = _outputs(args, offer, instance)
            except BaseException as err:  # also Ctrl-C/cancel: a rental must not outlive a failed create
                _destroy_after_failure(api, instance_id, err)
                raise
        return pulumi.dynamic.CreateResult(str(instance_id), outs)

    def _rent(self, api: VastClient, args: VastHostArgs, offers: list[Offer]) -> tuple[Offer, int]:
        taken: list[VastOfferUnavailableError] = []
        for offer in offers[: max(1, self.max_offer_attempts)]:
            try:
                instance_id = api.create_instance(
                    offer.id,
                    image=args.image,
                    disk_gb=args.disk_gb,
                    label=args.label,
                    onstart=args.onstart,
                    env={f"-p {p}:{p}": "1" for p in args.ports},
                    runtype="ssh",  # the only launch mode Vast supports for VMs
                    vm=True,
                )
            except VastOfferUnavailableError as exc:
                taken.append(exc)
                continue
            return offer, instance_id
        raise VastOfferUnavailableError(
            f"the {len(taken)} cheapest matching offers were taken before they could be rented "
            f"({'; '.join(str(e) for e in taken)}); run `pulumi up` again; nothing was rented"
        )

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        raise NotImplementedError("VastHost is never updated in place: diff replaces it on any input change")

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        try:
            instance_id = int(id_)
        except ValueError:
            raise ValueError(f"VastHost id {id_!r} is not a Vast instance id") from None
        with self._client() as api:
            api.destroy_instance(instance_id)  # False (404: already gone) is success too


def _changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Input names whose values differ once wire noise is removed (floats for ints, lists for tuples,
    the CLI's `RTX_4090` for Vast's `RTX 4090`, region/port order, a dropped None for a default)."""
    return sorted(k for k in INPUT_KEYS if _comparable(k, olds) != _comparable(k, news))


_FIELD_DEFAULTS = {
    f.name: f.default if f.default is not dataclasses.MISSING else None for f in dataclasses.fields(VastHostArgs)
}


def _comparable(key: str, props: Mapping[str, Any]) -> Any:
    value = props.get(key)
    if value is None:
        value = _FIELD_DEFAULTS[key]
    try:
        if value is None:
            return None
        if key in ("num_gpus", "disk_gb"):
            return _as_int(value, key)
        if key in ("min_reliability", "max_dph_usd"):
            return float(value)
        if key == "gpu_name":
            return canonical_gpu_name(value).casefold()
        if key == "region":
            return tuple(sorted(str(r) for r in value))
        if key == "ports":
            return tuple(sorted(_as_int(p, key) for p in value))
    except (TypeError, ValueError, AttributeError):
        pass  # an unknown (preview) or malformed value: compared as is, so any difference replaces
    return value


def _outputs(args: VastHostArgs, offer: Offer, instance: Instance) -> dict[str, Any]:
    outs = args.to_props()
    outs.update(
        instance_id=str(instance.id),
        offer_id=offer.id,
        public_ip=instance.public_ip or offer.public_ip,
        ssh_host=instance.ssh_host,
        ssh_port=instance.ssh_port,
        dph_total=instance.dph_total if instance.dph_total is not None else offer.dph_total,
        gpu_name=instance.gpu_name or offer.gpu_name,
        num_gpus=instance.num_gpus if instance.num_gpus is not None else offer.num_gpus,
        machine_id=instance.machine_id if instance.machine_id is not None else offer.machine_id,
        host_id=instance.host_id if instance.host_id is not None else offer.host_id,
        geolocation=instance.geolocation or offer.geolocation,
        reliability=offer.reliability,
        gpu_ram_mb=instance.gpu_ram_mb if instance.gpu_ram_mb is not None else offer.gpu_ram_mb,
        cpu_ram_mb=instance.cpu_ram_mb if instance.cpu_ram_mb is not None else offer.cpu_ram_mb,
        cpu_cores_effective=offer.cpu_cores_effective,
        cuda_max_good=offer.cuda_max_good,
        driver_version=offer.driver_version,
    )
    return outs


def _destroy_after_failure(api: VastClient, instance_id: int, err: BaseException) -> None:
    try:
        api.destroy_instance(instance_id)
    except Exception as destroy_err:  # the original error is the one to raise; this only annotates it
        err.add_note(
            f"Vast instance {instance_id} was rented, and destroying it after the failure also failed "
            f"({type(destroy_err).__name__}: {destroy_err}). It MAY STILL BE BILLING: destroy it at "
            f"{CONSOLE_INSTANCES_URL} or with `vastai destroy instance {instance_id}`."
        )
    else:
        err.add_note(f"Vast instance {instance_id} was rented and has been destroyed again; it is not billing.")


class VastHost(pulumi.dynamic.Resource, module="llmplatform/vast", name="VastHost"):
    """One rented Vast.ai VM (see the module docstring for behaviour and cost).

    Type token `pulumi-python:dynamic/llmplatform/vast:VastHost`: dynamic resources must live under
    `pulumi-python:dynamic`, the module/name part makes it distinguishable from other dynamic
    resources. The token is a contract (changing it needs an alias).
    """

    TYPE_TOKEN: ClassVar[str] = "pulumi-python:dynamic/llmplatform/vast:VastHost"

    instance_id: pulumi.Output[str]
    """Vast instance (contract) id; also the resource id."""
    offer_id: pulumi.Output[int]
    public_ip: pulumi.Output[str | None]
    ssh_host: pulumi.Output[str | None]
    """SSH endpoint Vast reports (its proxy or the host's address)."""
    ssh_port: pulumi.Output[int | None]
    dph_total: pulumi.Output[float]
    """Actual price, USD per hour, of the rental."""
    gpu_name: pulumi.Output[str]
    """GPU model of the rented machine, in Vast's spelling (e.g. `RTX 4090`)."""
    num_gpus: pulumi.Output[int]
    machine_id: pulumi.Output[int | None]
    host_id: pulumi.Output[int | None]
    geolocation: pulumi.Output[str | None]
    reliability: pulumi.Output[float]
    gpu_ram_mb: pulumi.Output[float | None]
    """Memory per GPU, MB."""
    cpu_ram_mb: pulumi.Output[float | None]
    cpu_cores_effective: pulumi.Output[float | None]
    cuda_max_good: pulumi.Output[float | None]
    """Highest CUDA version the host driver supports."""
    driver_version: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        args: VastHostArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        ready_timeout_s: float = 1200.0,
        poll_interval_s: float = 10.0,
    ) -> None:
        """
        :param name: logical name; also the Vast label when `args.label` is None.
        :param args: what to rent; all problems are reported at once (InputPropertiesError).
        :param ready_timeout_s: seconds to wait for the VM to run before destroying it and failing.
        :param poll_interval_s: seconds between status polls while waiting.
        """
        if args.label is None:
            args = dataclasses.replace(args, label=name)
        raise_problems(f"VastHost {name!r}", [Problem(prop, reason=reason) for prop, reason in args.problems()])
        props: dict[str, Any] = {**args.to_props(), **{key: None for key in OUTPUT_KEYS}}
        provider = VastHostProvider(ready_timeout_s=ready_timeout_s, poll_interval_s=poll_interval_s)
        super().__init__(provider, name, props, opts)
