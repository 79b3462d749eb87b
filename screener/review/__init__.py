"""Review: the audit store with its decisions, and re-screening past runs against new list versions."""
