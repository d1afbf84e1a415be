"""Authentication mechanics: passwords, MFA, server-side sessions, throttling, headers."""
