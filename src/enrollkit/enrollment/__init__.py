"""enrollkit.enrollment (see the docs)."""
