"""Typed stack configuration: the one place `Pulumi.<stack>.yaml` becomes Python objects.

`load_platform_config(raw)` validates a mapping of config keys (without the project prefix) and
returns a frozen `PlatformConfig`, or raises `ConfigError` whose message names every offending
key path, the value given, and what is allowed.
"""

from llmplatform.config.errors import ConfigError
from llmplatform.config.hardware import ACCELERATORS, Accelerator, machine_gpu_count
from llmplatform.config.model import (
    Autoscaling,
    ClusterLocation,
    FimFormat,
    GkeSubstrate,
    Governance,
    GpuPoolSpec,
    GpuSharing,
    ModelCapability,
    ModelSpec,
    Observability,
    PlatformConfig,
    PrefixCacheMode,
    Profile,
    ReleaseChannel,
    TenantGatewaySpec,
    TenantSpec,
    TrustTier,
    VastSubstrate,
    load_platform_config,
)

__all__ = [
    "ACCELERATORS",
    "Accelerator",
    "Autoscaling",
    "ClusterLocation",
    "ConfigError",
    "FimFormat",
    "GkeSubstrate",
    "Governance",
    "GpuPoolSpec",
    "GpuSharing",
    "ModelCapability",
    "ModelSpec",
    "Observability",
    "PlatformConfig",
    "PrefixCacheMode",
    "Profile",
    "ReleaseChannel",
    "TenantGatewaySpec",
    "TenantSpec",
    "TrustTier",
    "VastSubstrate",
    "load_platform_config",
    "machine_gpu_count",
]
