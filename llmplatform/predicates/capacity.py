"""GPU capacity arithmetic: does what the config asks for fit the pool it runs on?"""

from __future__ import annotations

from llmplatform.problems import Problem


def pool_gpu_capacity(*, max_nodes: int, gpus_per_node: int, shared_clients_per_gpu: int = 1) -> int:
    """Schedulable GPU units when the pool is at `max_nodes` (time-sharing multiplies each GPU)."""
    return max_nodes * gpus_per_node * max(1, shared_clients_per_gpu)


def quota_violations(
    *,
    capacity: int,
    gpus_per_node: int,
    models: list[tuple[str, int, int]],
    tenants: list[tuple[str, int]],
) -> list[Problem]:
    """A problem (at `models[i].gpus_per_replica`, `models` or `tenants`) for every GPU demand that cannot fit the pool.

    `models` are (name, gpus_per_replica, max_replicas); `tenants` are (name, gpu_quota).
    A replica must fit on one node; all models at max replicas must fit the pool; the tenants'
    nominal quotas together must not promise more GPUs than the pool can ever have.
    """
    out: list[Problem] = []
    for i, (name, per_replica, max_replicas) in enumerate(models):
        if per_replica > gpus_per_node:
            out.append(Problem(f"models[{i}].gpus_per_replica", per_replica,
                               f"model {name!r} needs {per_replica} GPUs per replica but a node has {gpus_per_node}"))
    demand = sum(p * r for _, p, r in models)
    if demand > capacity:
        out.append(Problem("models", demand,
                           f"all models at max_replicas need {demand} GPUs; the pool has at most {capacity}"))
    quota = sum(q for _, q in tenants)
    if quota > capacity:
        out.append(Problem("tenants", quota,
                           f"tenant gpu_quota adds up to {quota} GPUs; the pool has at most {capacity}"))
    return out
