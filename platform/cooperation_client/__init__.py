"""End-to-end encryption client core of the Secure Platform on Cooperation ("TEK", suite 1).

This package is the Python twin of static/js/e2e/: both implement the formats written down in
PROTOCOL.md and are held to the same test vectors (vectors/tek1-vectors.json). It depends only
on `cryptography`, never on Flask or on the `cooperation` application: the server may import
`cooperation_client.protocol.envelope` (and `attachments.parse_header`) to check the structure
of what it stores, nothing else.
"""

SUITE = 1
