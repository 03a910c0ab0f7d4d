"""Content-Encoding decoded piece by piece, so a compression bomb costs no more than the cap.

httpx decodes a whole network chunk at once: one 64 kB read of a gzip bomb becomes 64 MB in
memory before any size check can run. Here every decoder is asked for at most `PIECE` bytes at a
time (zlib's `max_length`, brotli's `output_buffer_limit`), and the caller counts the pieces, so
a body that inflates past the cap is refused having held about one piece more than the cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli

PIECE = 64 * 1024
# What we can decode, and so what we tell servers we accept.
ACCEPT_ENCODING = "gzip, deflate, br"


class EncodingError(Exception):
    """The body is not valid in its declared Content-Encoding, or the encoding is unknown."""


class Stage(Protocol):
    def decode(self, data: bytes) -> Iterator[bytes]:
        """The output for `data`, in pieces of about `PIECE` bytes at most."""
        ...

    def finish(self) -> Iterator[bytes]:
        """Whatever output remains once the input has ended."""
        ...


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (wbits 31) or deflate: zlib-wrapped as the RFC says, or raw as some servers send."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._gzip = name in ("gzip", "x-gzip")
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._started = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            if not self._started and not self._gzip and data:
                self._started = True
                try:
                    out = self._inflater.decompress(data, PIECE)
                except zlib.error:  # raw deflate without the zlib header
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = self._inflater.decompress(data, PIECE)
            else:
                self._started = True
                out = self._inflater.decompress(data, PIECE)
            while True:
                if out:
                    yield out
                if not self._inflater.unconsumed_tail and len(out) < PIECE:
                    return
                out = self._inflater.decompress(self._inflater.unconsumed_tail, PIECE)
        except zlib.error as exc:
            raise EncodingError(f"corrupt {self.name} body: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        try:
            rest = self._inflater.flush(PIECE)
        except zlib.error as exc:
            raise EncodingError(f"corrupt {self.name} body: {exc}") from exc
        if rest:
            yield rest


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._decompressor.process(data, output_buffer_limit=PIECE)
            while True:
                if out:
                    yield out
                # A full buffer may hide more output even when more input would be accepted.
                if self._decompressor.can_accept_more_data() and len(out) < PIECE:
                    return
                out = self._decompressor.process(b"", output_buffer_limit=PIECE)
        except brotli.error as exc:
            raise EncodingError(f"corrupt br body: {exc}") from exc

    def finish(self) -> Iterator[bytes]:
        if not self._decompressor.is_finished():
            yield from self.decode(b"")


def _stage(name: str) -> Stage:
    if name in ("", "identity"):
        return _Identity()
    if name in ("gzip", "x-gzip", "deflate"):
        return _Zlib(name)
    if name == "br":
        return _Brotli()
    raise EncodingError(f"unsupported Content-Encoding {name!r}")


class Decoder:
    """The body's codings undone in reverse order of application (`gzip, br`: br first)."""

    def __init__(self, content_encoding: str | None) -> None:
        names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
        self._stages = [_stage(name) for name in reversed(names)]

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of `data`, none much larger than `PIECE`."""
        return self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """The remaining output once the body has ended."""
        for index, stage in enumerate(self._stages):
            for piece in stage.finish():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            if data:
                yield data
            return
        for piece in self._stages[index].decode(data):
            yield from self._through(index + 1, piece)
