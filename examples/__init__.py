"""Runnable examples of hosts built on enrollkit (not part of the installed library)."""
