"""One exception family for every protocol failure, so callers cannot miss a case."""


class ProtocolError(ValueError):
    """Malformed input: wrong magic, length, version, field value or encoding."""


class VerificationError(ProtocolError):
    """A signature, authentication tag, hash chain or authorisation rule did not hold.

    Deliberately one type: a client must treat every integrity failure the same way (refuse and
    show it), and error details must not become an oracle for an attacker.
    """
