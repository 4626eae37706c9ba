"""Per-tenant namespaces (untrusted tier): quota, limits, key-reader RBAC, default-deny (`render`)."""
