"""Public test helpers for integrators: hypothesis strategies and the storage contract suite."""
