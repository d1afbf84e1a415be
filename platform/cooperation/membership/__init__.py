"""States Parties and organisations taking part in the platform."""
