"""Plain builders for Kubernetes object dicts, with no platform contract in them."""
