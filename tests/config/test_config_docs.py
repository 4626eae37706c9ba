"""docs/configuration.md lists every config key the schema accepts, and nothing it does not."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from llmplatform.config.model import PlatformConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def schema_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        path = prefix + name
        paths.add(path)
        args = getattr(field.annotation, "__args__", ()) or (field.annotation,)
        for arg in args:
            inner = getattr(arg, "__args__", ()) or (arg,)
            for sub in inner:
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    suffix = "[]." if "tuple" in str(field.annotation) else "."
                    paths |= schema_paths(sub, path + suffix)
    return paths


def test_every_schema_key_is_documented_and_no_documented_key_is_invented():
    documented = set(re.findall(r"^\| `([a-z0-9_\[\].]+)` \|", DOC.read_text(), flags=re.M))
    expected = schema_paths(PlatformConfig)
    assert expected - documented == set(), "keys missing from docs/configuration.md"
    assert documented - expected == set(), "docs/configuration.md lists keys the schema does not have"
