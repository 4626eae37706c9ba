"""`llmp validate-multigpu`: prove on a live cluster what the offline plan cannot.

Three criteria, run against any cluster this program deployed (a Vast k3s VM or GKE):
- (a) `fanout`: under load, the endpoint picker spreads requests over every model-server replica
  (share per pod, Jain's fairness index);
- (b) `rollout`: a rolling restart of a 2+ replica model server under steady load loses nothing
  (no failed and no cut-off response; the Deployment uses RollingUpdate with maxUnavailable 0);
- (c) `timeslicing`: GPU nodes advertise physical GPUs x time-slicing replicas, carry the expected
  product label (`-SHARED`), and more serving replicas than GPUs run with the lowered memory fraction.

Modules: `kube` (a small async Kubernetes API client from a kubeconfig), `loadgen` (bounded async
OpenAI-compatible load with a record per response), `fanout`, `rollout`, `timeslicing` (criteria as
pure evaluations plus their cluster probes), `report` (one JSON report: machine facts, criteria,
cost) and `run` (the orchestration behind the CLI command).
"""
