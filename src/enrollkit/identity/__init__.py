"""enrollkit.identity (see the docs)."""
