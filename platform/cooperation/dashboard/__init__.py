"""A dashboard page per role."""
