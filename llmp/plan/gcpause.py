"""Keep CPython's full garbage collections out of the mocked program run, where they cost O(n^2).

Measured (bench/plan_scaling.py, untrusted tier, 25/50/100 tenants = 397/697/1297 resources): with the
interpreter's default thresholds, a run made 4/8/12 full (oldest-generation) collections. Each one walks
every tracked object: the imported SDKs (~400k objects) plus the whole resource graph, which stays alive
until the program ends (~400 objects a resource). They reclaimed almost nothing (0-1,300 objects each),
yet took 1.4/4.2/7.8 s of 3.0/6.4/12.5 s: their number grows with the resources and so does each one's
cost. Young collections still run, so short-lived cycles (e.g. the SDK's per-call recursive closures) are
reclaimed as before; whatever reached the oldest generation meanwhile waits for the first full
collection after the block.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

PAUSED_THRESHOLD = 1 << 30
"""Young-generation collections needed before a full one is considered: never reached by one plan."""


@contextmanager
def full_collections_paused() -> Iterator[None]:
    """Within the block, automatic collections of the oldest generation do not happen (`gc.collect()`
    still works); the previous thresholds are restored on exit, even on error."""
    young0, young1, old = gc.get_threshold()
    gc.set_threshold(young0, young1, PAUSED_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(young0, young1, old)
