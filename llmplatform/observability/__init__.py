"""Observability: the scrape jobs, alert and recording rules and dashboards, rendered from typed config."""
