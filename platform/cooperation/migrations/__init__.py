"""Alembic migrations, configured in code (migrations/alembic.py)."""
