"""Vast.ai substrate: rented multi-GPU VMs (k3s runs on them) for cheap multi-GPU validation.

- `api`: a small typed client over Vast's REST API (httpx).
- `host`: `VastHost`, a Pulumi dynamic resource that rents one VM and destroys it on delete.

The tests' fake of the REST endpoints `api` uses is `tests/support/vast_fake_server.py` (not shipped).

Importing this package (or any of its modules) has no side effects: nothing is rented, no network is
touched and no environment variable is read until a client or provider method runs.
"""
