"""Tests of the proofs (llmp.verify): clean renderings pass, planted violations fail by name."""
