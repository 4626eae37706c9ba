"""Tests of `llmp.verify.manifests`: CRD and core schema checks, manifest loading, checkov."""
