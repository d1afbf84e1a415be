"""TAF1 streams a large attachment through file objects in bounded memory."""

from __future__ import annotations

import hashlib
import os
import tempfile
import tracemalloc

from cooperation_client.protocol import attachments

SIZE = 64 * 1024 * 1024 + 12345
MAX_PEAK = 6 * 1024 * 1024  # a few chunks of 1 MiB, never the file


class _Source:
    """A 64 MiB pseudo-file generated on the fly, so the test itself holds no copy."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = hashlib.sha256(b"block").digest() * (1 << 15)  # 1 MiB
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        n = self.remaining if n < 0 else min(n, self.remaining)
        data = (self.block * (n // len(self.block) + 1))[:n]
        self.remaining -= n
        self.sha.update(data)
        return data


class _Sink:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)


def test_64_mib_round_trip_through_a_file_in_bounded_memory():
    key = os.urandom(32)
    source = _Source(SIZE)
    with tempfile.TemporaryFile() as encrypted:
        tracemalloc.start()
        try:
            result = attachments.encrypt_stream(key, source, encrypted)
            _, encrypt_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            encrypted.seek(0)
            sink = _Sink()
            opened = attachments.decrypt_stream(key, encrypted, sink)
            _, decrypt_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.ciphertext_size == attachments.ciphertext_size(SIZE) == encrypted.tell()
    assert (opened.plaintext_size, sink.size) == (SIZE, SIZE)
    assert sink.sha.digest() == source.sha.digest()
    assert opened.digest == result.digest
    assert encrypt_peak < MAX_PEAK, encrypt_peak
    assert decrypt_peak < MAX_PEAK, decrypt_peak
