"""Admission controls rendered as plain Kubernetes objects (dicts), one module per control."""
