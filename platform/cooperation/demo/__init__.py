"""Demo data, loaded by the `seed-demo` command (never by migrations, never in production)."""
