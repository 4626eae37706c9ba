"""No platform workload runs as the `default` ServiceAccount (`render`: the admission rule; `predicates`)."""
