"""Tests of the substrates (GKE, Vast.ai): pure logic, and dynamic providers against local fakes."""
