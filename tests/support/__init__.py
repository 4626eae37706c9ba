"""Harnesses and fakes the tests (and `bench/`) use; never part of the installed product.

- `gates`: skip-or-fail gates for prerequisites outside the repository (CI turns skips into failures).
- `recording`: the recording Pulumi mocks fixture for component tests.
- `livestack`: the real LiteLLM proxy with PostgreSQL, Redis and the Prisma WASM engine on loopback.
- `vast_fake_server`: a local fake of the Vast.ai REST endpoints `substrates.vast.api` uses.
"""
