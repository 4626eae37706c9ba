"""Tests of the proofs (llmplatform.verify): clean renderings pass, planted violations fail by name."""
