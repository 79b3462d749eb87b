"""Files: streaming readers for customer files, and the writers of every output format."""
