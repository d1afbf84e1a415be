"""User accounts, invitations, profile and sessions page."""
