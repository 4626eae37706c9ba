"""Tests of the rendered admission controls (llmplatform.controls)."""
