"""End-to-end encrypted threads: the server stores and relays ciphertext, public keys and the
participant lists it needs for access control, and nothing else (research note, Part B)."""
