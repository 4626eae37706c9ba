"""Container image references: only digest-pinned images are reproducible and tamper-evident."""

from __future__ import annotations

import re

_DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")


def is_pinned_by_digest(image: str) -> bool:
    """True for `repo[:tag]@sha256:<64 hex>`; a tag alone can be moved, so it is not pinned."""
    return bool(_DIGEST.match(image))
