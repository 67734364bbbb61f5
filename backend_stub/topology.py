"""The backend's topology: services, their builds and behaviour, replicas, gateway and autoscaler
settings, read from ``config/backend.toml`` into one strict model.

Durations of the controllers (autoscaler windows, rollout plans, scrapes) are *plan* seconds; the
cluster divides them by ``time_scale`` (60 = one plan minute per real second). Gateway
timeouts are real seconds.

Errors::

    TopologyError (ValueError)   the file is missing or invalid; ``problems`` lists every problem
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend_stub.faults import FaultError, FaultSpec

DEFAULT_FILE = Path("config/backend.toml")


class TopologyError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuildConfig(_Model):
    api_versions: tuple[str, ...] = ("v1", "v2")
    faults: dict[str, Any] = Field(default_factory=dict)
    # free-form behaviour handed to the service's app factory (e.g. a feature flag)
    settings: dict[str, Any] = Field(default_factory=dict)

    def fault_spec(self) -> FaultSpec:
        return FaultSpec.from_mapping(self.faults)

    @model_validator(mode="after")
    def _check(self) -> BuildConfig:
        self.fault_spec()  # raises FaultError (a ValueError) with a specific message
        for v in self.api_versions:
            if not (v.startswith("v") and v[1:].isdigit()):
                raise ValueError(f"api version {v!r} must look like v1, v2")
        return self


class ServiceConfig(_Model):
    stable: str
    builds: dict[str, BuildConfig]
    replicas: int = Field(2, ge=0, le=64)
    min_replicas: int = Field(1, ge=0, le=64)
    max_replicas: int = Field(8, ge=1, le=64)
    target_rps_per_instance: float = Field(50.0, gt=0)
    idle_to_zero_s: float = Field(0.0, ge=0, description="plan seconds without requests before 0 (0: never)")
    rollout: str | None = None  # a plan file, relative to the topology file's folder

    @model_validator(mode="after")
    def _check(self) -> ServiceConfig:
        if self.stable not in self.builds:
            raise ValueError(f"stable build {self.stable!r} is not among builds {sorted(self.builds)}")
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas is above max_replicas")
        if self.idle_to_zero_s and self.min_replicas != 0:
            raise ValueError("idle_to_zero_s needs min_replicas = 0")
        return self


class GatewayConfig(_Model):
    max_retries: int = Field(2, ge=0, le=5)
    retry_budget_ratio: float = Field(0.2, ge=0, le=1)
    retry_budget_min: int = Field(10, ge=0)
    per_try_timeout_s: float = Field(5.0, gt=0)
    eject_after: int = Field(5, ge=1)
    eject_s: float = Field(30.0, gt=0)
    max_ejected_share: float = Field(0.5, ge=0, le=1)
    drain_timeout_s: float = Field(10.0, gt=0)
    hold_timeout_s: float = Field(30.0, gt=0)
    health_interval_s: float = Field(1.0, gt=0, description="readiness checks of ready instances")
    seed: int = 1


class InstanceLimitsConfig(_Model):
    """Each instance's admission (backend_stub.admission): concurrency, queue, waits per class."""

    max_concurrency: int = Field(16, ge=1, le=4096, description="requests at work at once")
    max_queue: int = Field(64, ge=0, description="requests waiting for a slot")
    max_held: int = Field(1024, ge=0, description="invoice long-polls held at once (they take no slot)")
    wait_payments_s: float = Field(4.0, gt=0, description="payment writes and inquiries wait at most")
    wait_quotes_s: float = Field(2.0, gt=0)
    wait_polls_s: float = Field(1.0, gt=0, description="invoice polls and lists")


class LimitsConfig(_Model):
    """What the edge refuses (gateway and instances); docs/platform.md, "Limits"."""

    rate_per_key: float = Field(20.0, gt=0, description="requests per second per terminal key (gateway)")
    burst_per_key: int = Field(40, ge=1, description="requests a key may save up")
    max_body_bytes: int = Field(65_536, ge=1024, description="413 above this (gateway and instances)")
    max_header_bytes: int = Field(16_384, ge=1024, description="431 above this")
    header_timeout_s: float = Field(5.0, gt=0, description="a request's headers must arrive within this")
    body_timeout_s: float = Field(10.0, gt=0, description="a body within this of its headers (else 408)")
    keep_alive_s: float = Field(30.0, gt=0, description="an idle client connection is closed after this")
    max_connections: int = Field(2048, ge=1, description="client connections the gateway keeps open")
    instance: InstanceLimitsConfig = InstanceLimitsConfig()


class AutoscaleConfig(_Model):
    interval_s: float = Field(15.0, gt=0)
    window_s: float = Field(30.0, gt=0, description="metric window, plan seconds")
    tolerance: float = Field(0.1, ge=0, lt=1)
    scale_down_stabilization_s: float = Field(300.0, ge=0)
    scale_up_stabilization_s: float = Field(0.0, ge=0)
    scale_up_percent: float = Field(100.0, gt=0)
    scale_up_pods: int = Field(4, ge=1)
    scale_up_period_s: float = Field(15.0, gt=0)


class MonitoringConfig(_Model):
    # the PodMonitor's interval in deploy/k8s; query windows must span at least two of it
    scrape_interval_s: float = Field(15.0, gt=0, description="plan seconds between two scrapes")


class StoreConfig(_Model):
    url: str | None = Field(
        None,
        description="the ledger: sqlite:///PATH (relative to the run directory) or postgresql://...",
    )

    @model_validator(mode="after")
    def _check(self) -> StoreConfig:
        if self.url is not None:
            from backend_stub.store.errors import StoreConfigError
            from backend_stub.store.url import parse_store_url

            try:
                parse_store_url(self.url)
            except StoreConfigError as exc:
                raise ValueError(str(exc)) from None
        return self


class Topology(_Model):
    time_scale: float = Field(60.0, gt=0, description="plan seconds per real second")
    store: StoreConfig = StoreConfig()
    gateway: GatewayConfig = GatewayConfig()
    autoscale: AutoscaleConfig = AutoscaleConfig()
    limits: LimitsConfig = LimitsConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    services: dict[str, ServiceConfig]

    def scaled(self, plan_seconds: float) -> float:
        return plan_seconds / self.time_scale


def load_topology(path: Path | None = None) -> Topology:
    path = path or DEFAULT_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TopologyError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError(str(path), [f"cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise TopologyError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_topology(data, source=str(path))


def parse_topology(data: dict[str, Any], *, source: str = "<topology>") -> Topology:
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise TopologyError(source, problems) from None
    except FaultError as exc:
        raise TopologyError(source, [str(exc)]) from None
