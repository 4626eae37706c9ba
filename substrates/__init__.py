"""Substrates: where the platform's Kubernetes cluster comes from (GKE, or rented Vast.ai VMs with k3s).

A substrate hands two things to the substrate-agnostic components: a Kubernetes provider and a
`SubstrateCapabilities` object. Components read capabilities; they never branch on a substrate's name.
"""
