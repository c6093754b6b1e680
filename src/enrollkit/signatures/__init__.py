"""enrollkit.signatures (see the docs)."""
