"""Offline plan: run the real program under the Pulumi SDK's mocks and record what it would create."""
