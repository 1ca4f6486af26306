"""The production pipeline's stages, shared by `patrol run` (real drones) and `patrol demo` (simulated)."""
