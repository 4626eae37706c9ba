"""SR1 network path: default-deny NetworkPolicies and the allow-list (`render`), their static checks (`predicates`)."""
