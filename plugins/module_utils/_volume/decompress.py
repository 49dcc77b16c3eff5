# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compressed downloads decompressed on the host while they stream: xz, gzip and bzip2 with
Python's incremental decompressors, zstd with Python's decompressor where the host has one
(``compression.zstd``, the ``zstandard`` module) or else the ``zstd`` program.

Nothing is written to a temporary file; the decompressed bytes come out in chunks of at most
CHUNK_SIZE, counted against a limit, and a compressed stream that ends before its end marker
(truncated) or holds corrupt data is an error, never a shorter image.

Imported only by runs that download a compressed image (import cost on every task).
"""

from __future__ import annotations

import bz2
import lzma
import shutil
import subprocess
import threading
import zlib
from typing import Any, Callable, Iterator, List, Optional

from ansible_collections.remotevirt.install.plugins.module_utils._volume.download import (
    CHUNK_SIZE,
    COMPRESSED_MAGICS,
    HEAD_BYTES,
    DownloadError,
    ServedHead,
    SlowHead,
    UrlAccess,
    compressed_as,
    head_deadline,
    judged_image,
    looks_like_html,
    open_head,
    read_head,
    read_some,
    served_length,
)

ZSTD_PROGRAM = "zstd"

# What the plan's equivalent shell pipeline decompresses with.
PROGRAMS = {"xz": "xz", "gzip": "gzip", "bzip2": "bzip2", "zstd": "zstd"}

# Compressed bytes read when planning to reach the image's first HEAD_BYTES. xz, gzip and zstd
# decompress as they stream (a few KiB usually suffice); bzip2 gives nothing out before the end of a
# block of up to 900 kB of image, which may be compressed to more than this: then the image is
# judged by the upload only.
COMPRESSED_HEAD_LIMIT = 1 << 20
# Compressed bytes read at a time when planning.
_HEAD_READ = 64 << 10


def compressed_problem(head: bytes, compression: str, content_type: Optional[str]) -> Optional[str]:
    """Why a body starting with ``head`` is not ``compression``-compressed data, or None when it is."""
    magic = COMPRESSED_MAGICS[compression]
    if head.startswith(magic):
        return None
    if looks_like_html(head, content_type):
        return "the content is an HTML page, not %s-compressed data" % compression
    found = compressed_as(head)
    if found is not None:
        return "the content is %s-compressed, not %s-compressed: set compression: %s" % (found, compression, found)
    return "the content is not %s-compressed data (it must start with %r)" % (compression, magic)


def judge_compressed_head(url: str, compression: str, fmt: str, access: UrlAccess) -> ServedHead:
    """The first bytes a compressed download serves, judged when planning as the download judges them:
    the signature of ``compression`` (an error page is refused), then, decompressed, the image's first
    HEAD_BYTES as format ``fmt`` (corrupt data is refused), read for the size its header gives; a body
    the plan reads whole (no longer than COMPRESSED_HEAD_LIMIT) must also end where its compressed data
    does. What cannot be told from the first COMPRESSED_HEAD_LIMIT bytes, or is decompressed by the zstd
    program, is left to the download; so is a body that cannot be read, or not within HEAD_SECONDS."""
    deadline = head_deadline()
    try:
        response = open_head(url, COMPRESSED_HEAD_LIMIT, access)
    except DownloadError:
        return ServedHead()
    try:
        head, content_type = read_head(response, _HEAD_READ, deadline)
        problem = compressed_problem(head, compression, content_type)
        if problem or (compression == "zstd" and _python_zstd() is None):
            return ServedHead(problem)
        return _ImageHead(response, compression, fmt, deadline).judged(head)
    except SlowHead:
        return ServedHead()
    except DownloadError as error:
        return ServedHead(str(error))
    except Exception:  # a connection dropped in the first bytes: the download reads them again
        return ServedHead()
    finally:
        response.close()


# Bytes a body read whole when planning is decompressed to at most, to see where its data ends.
_WHOLE_OUTPUT_LIMIT = 64 << 20


class _ImageHead:
    """The image's first HEAD_BYTES, decompressed from what ``response`` serves, judged as ``fmt``."""

    def __init__(self, response: Any, compression: str, fmt: str, deadline: float) -> None:
        self.response = response
        self.compression = compression
        self.fmt = fmt
        self.deadline = deadline
        self.members = _Members(compression, "the content")
        total = served_length(response)
        # The whole body comes within the limit: where it ends, its compressed data must end too.
        self.whole = total if total is not None and total <= COMPRESSED_HEAD_LIMIT else None
        self.image = b""
        self.output = 0
        self.judgement: Optional[ServedHead] = None

    def judged(self, compressed: bytes) -> ServedHead:
        """The judgement of the image from ``compressed`` (the body's first bytes) on; DownloadError for
        data that is not valid."""
        read = len(compressed)
        while compressed:
            if self._fed(compressed):
                return self.judgement or ServedHead()
            left = (self.whole if self.whole is not None else COMPRESSED_HEAD_LIMIT) - read
            compressed = read_some(self.response, min(_HEAD_READ, left), self.deadline) if left > 0 else b""
            read += len(compressed)
        if self.whole is not None and read == self.whole and not self.members.complete:
            return ServedHead("the content ends before its %s-compressed data does (truncated)" % self.compression)
        if self.judgement is None and read < COMPRESSED_HEAD_LIMIT and self.members.complete:
            return judged_image(self.image, self.fmt, None)  # the whole image, shorter than HEAD_BYTES
        return self.judgement or ServedHead()  # undecided beyond: the download sees more

    def _fed(self, compressed: bytes) -> bool:
        """Decompress ``compressed``; whether the judgement is complete (nothing more to read)."""
        for out in self.members.feed(compressed):
            self.output += len(out)
            if self.judgement is None:
                self.image += out
                if len(self.image) >= HEAD_BYTES:
                    self.judgement = judged_image(self.image, self.fmt, None)
                    if self.judgement.problem or self.whole is None:
                        return True
            if self.output > _WHOLE_OUTPUT_LIMIT:
                self.whole = None  # too much to decompress when planning: its end is left to the download
                return self.judgement is not None
        return False


# -- Python's decompressors ---------------------------------------------------------------------
def _python_zstd() -> Optional[Callable[[], Any]]:
    """A factory of incremental zstd decompressors with lzma's interface, when this Python has one."""
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14 and later

        return zstd.ZstdDecompressor
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        return None
    # Releases before 0.20 do not say where a frame ends: a truncated one would pass unseen.
    if not hasattr(zstandard.ZstdDecompressor().decompressobj(), "eof"):
        return None
    return lambda: _Zstandard(zstandard)


class _Zstandard:
    """The ``zstandard`` module's decompression object seen through lzma's interface; its
    ``decompress`` has no output limit, so its output is handed out CHUNK_SIZE at a time."""

    def __init__(self, module: Any) -> None:
        self._decompressor = module.ZstdDecompressor().decompressobj()
        self._pending = b""

    @property
    def eof(self) -> bool:
        return bool(self._decompressor.eof) and not self._pending

    @property
    def needs_input(self) -> bool:
        return not self._pending

    @property
    def unused_data(self) -> bytes:
        return bytes(getattr(self._decompressor, "unused_data", b""))

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._pending += self._decompressor.decompress(data)
        out, self._pending = self._pending[:max_length], self._pending[max_length:]
        return out


class _Gzip:
    """zlib's gzip decompression object seen through lzma's interface (eof, needs_input, unused_data)."""

    def __init__(self) -> None:
        # 16 + MAX_WBITS: a gzip member, its CRC-32 and length trailer checked.
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._full = False

    @property
    def eof(self) -> bool:
        return self._decompressor.eof

    @property
    def needs_input(self) -> bool:
        return not self._decompressor.unconsumed_tail and not self._full

    @property
    def unused_data(self) -> bytes:
        return self._decompressor.unused_data

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._decompressor.decompress(self._decompressor.unconsumed_tail + data, max_length)
        # A full buffer may leave output inside zlib although all input was taken: ask again.
        self._full = len(out) == max_length and not self._decompressor.eof
        return out


def _factory(compression: str) -> Callable[[], Any]:
    if compression == "xz":
        return lzma.LZMADecompressor
    if compression == "bzip2":
        return bz2.BZ2Decompressor
    if compression == "gzip":
        return _Gzip
    zstd = _python_zstd()
    if zstd is None:
        raise DownloadError("cannot decompress zstd: this host has neither Python's zstd support nor the zstd program")
    return zstd


class _Members:
    """Decompresses one stream of concatenated members (``cat a.xz b.xz``, pbzip2's output),
    each checked to its end; NUL bytes between and after members (xz stream padding, blocked
    tapes) are skipped."""

    def __init__(self, compression: str, url: str) -> None:
        self.compression = compression
        self.url = url
        self._new = _factory(compression)
        self._decompressor = self._new()
        self._started = False  # the current member has seen input

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decompressed bytes of ``data``, at most CHUNK_SIZE at a time."""
        while data:
            if self._decompressor.eof:
                data = data.lstrip(b"\0")
                if not data:
                    return
                self._decompressor = self._new()
            self._started = True
            yield from self._drain(data)
            data = self._decompressor.unused_data if self._decompressor.eof else b""

    def _drain(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._decompressor.decompress(data, CHUNK_SIZE)
            while True:
                if out:
                    yield out
                if self._decompressor.eof or self._decompressor.needs_input:
                    return
                out = self._decompressor.decompress(b"", CHUNK_SIZE)
        except (lzma.LZMAError, OSError, zlib.error, EOFError, ValueError) as error:
            raise DownloadError("%s is not valid %s-compressed data: %s" % (self.url, self.compression, error))
        except Exception as error:  # third-party decompressors raise their own error types
            if type(error).__module__.split(".", maxsplit=1)[0] not in ("zstandard", "compression", "_zstd"):
                raise
            raise DownloadError("%s is not valid %s-compressed data: %s" % (self.url, self.compression, error))

    @property
    def complete(self) -> bool:
        """Whether the data fed so far ends where a member ends (with its end marker and checks)."""
        return self._started and self._decompressor.eof

    def finish(self) -> None:
        """Raise unless the last member ended with its end marker (and its checks)."""
        if not self.complete:
            raise DownloadError("%s ends before its %s-compressed data does (truncated)" % (self.url, self.compression))


def _with_python(chunks: Iterator[bytes], compression: str, url: str) -> Iterator[bytes]:
    members = _Members(compression, url)
    for chunk in chunks:
        yield from members.feed(chunk)
    members.finish()


# -- the zstd program ---------------------------------------------------------------------------
class _Feeder(threading.Thread):
    """Writes the compressed chunks to the program's input while the caller reads its output;
    an error of the download is kept for the caller, who reports it before the program's."""

    def __init__(self, chunks: Iterator[bytes], sink: Any) -> None:
        super().__init__(daemon=True)
        self.chunks = chunks
        self.sink = sink
        self.errors: List[BaseException] = []

    def run(self) -> None:
        try:
            for chunk in self.chunks:
                self.sink.write(chunk)
        except BrokenPipeError:
            pass  # the program stopped reading: its exit status says why
        except BaseException as error:  # handed to the reading thread, which raises it
            self.errors.append(error)
        finally:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()
            try:
                self.sink.close()
            except OSError:
                pass


def _with_program(chunks: Iterator[bytes], compression: str, url: str) -> Iterator[bytes]:
    program = shutil.which(PROGRAMS[compression])
    if program is None:
        raise DownloadError("cannot decompress %s: no %s program on this host" % (compression, PROGRAMS[compression]))
    process = subprocess.Popen([program, "-d", "-c", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    feeder = _Feeder(chunks, process.stdin)
    feeder.start()
    finished = False
    try:
        while True:
            out = process.stdout.read(CHUNK_SIZE) if process.stdout is not None else b""
            if not out:
                break
            yield out
        feeder.join()
        finished = True
    finally:
        if not finished:
            process.kill()
        status = process.wait()
        feeder.join()
        stderr = process.stderr.read().decode("utf-8", "replace").strip() if process.stderr is not None else ""
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    if feeder.errors:
        raise feeder.errors[0]
    if status != 0:
        raise DownloadError(
            "%s is not valid, complete %s-compressed data: %s %s"
            % (url, compression, PROGRAMS[compression], stderr or "exited with status %d" % status)
        )


def can_decompress(compression: str) -> bool:
    """Whether this host can decompress ``compression`` (xz, gzip and bzip2 always can)."""
    return compression != "zstd" or _python_zstd() is not None or shutil.which(ZSTD_PROGRAM) is not None


def decompressed(
    chunks: Iterator[bytes], compression: str, url: str, limit: Optional[int] = None, limit_holder: str = "the volume takes"
) -> Iterator[bytes]:
    """The decompressed bytes of ``chunks``, at most CHUNK_SIZE at a time; DownloadError for
    corrupt or truncated data, and for more than ``limit`` bytes (what ``limit_holder`` says it
    is), before any byte beyond it is given out."""
    if compression == "zstd" and _python_zstd() is None:
        out = _with_program(chunks, compression, url)
    else:
        out = _with_python(chunks, compression, url)
    count = 0
    try:
        for chunk in out:
            count += len(chunk)
            if limit is not None and count > limit:
                raise DownloadError(
                    "%s decompresses to more than the %d bytes %s; an image is never cut short" % (url, limit, limit_holder)
                )
            yield chunk
    finally:
        close = getattr(out, "close", None)
        if close is not None:
            close()
