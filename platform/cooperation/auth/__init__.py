"""Sign-in (password, then a second factor) and sign-out."""
