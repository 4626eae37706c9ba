"""Test support shared by the suite (importable so helpers and benchmarks can use it too)."""
