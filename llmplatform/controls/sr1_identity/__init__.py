"""SR1 identity: the admission rule tying every trusted pod label to its ServiceAccount (`render`, `predicates`)."""
