"""The observability proof: the rendered rules checked and unit-tested by promtool, every metric they,
the dashboards and the KEDA triggers read known to the pinned release that exports it."""
