"""IVR flows written in YAML: checking, simulating, drawing and running them."""
