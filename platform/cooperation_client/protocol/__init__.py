"""TEK suite 1 building blocks, one module per format (see PROTOCOL.md).

Kept import-free on purpose: the server imports `protocol.envelope` alone and must not pull in
key management or the thread log with it.
"""
