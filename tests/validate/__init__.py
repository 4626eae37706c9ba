"""Tests of `llmplatform.validate`: CRD and core schema checks, manifest loading, checkov."""
