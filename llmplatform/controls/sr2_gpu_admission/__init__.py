"""SR2 GPU admission: GPU work only through Kueue (`render`: VAP, exempt-name guard, Kyverno; `predicates`)."""
