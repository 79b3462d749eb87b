"""The HTTP service: the JSON API for pipelines and the upload page for staff, over one library API."""
