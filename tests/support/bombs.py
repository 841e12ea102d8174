"""Decompression bombs: small files whose headers declare gigapixels, in the formats OpenCV decodes."""

from __future__ import annotations

import struct
import zlib


def tiff_bomb(width: int = 30_000, height: int = 30_000, *, big_endian: bool = False) -> bytes:
    """A valid grey TIFF of width×height zeros, a few hundred KB: every one-row strip points at one deflated row.

    At 30000×30000 OpenCV decodes it to 5.4 GB of memory.
    """
    order = ">" if big_endian else "<"
    row = zlib.compress(b"\0" * width, 9)
    entries = [  # tag, type (3 SHORT, 4 LONG), count, value; 273/279 are filled in below
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 1),
        (273, 4, height, 0), (277, 3, 1, 1), (278, 4, 1, 1), (279, 4, height, 0),
    ]  # fmt: skip
    offsets_at = 8 + 2 + 12 * len(entries) + 4
    counts_at = offsets_at + 4 * height
    data_at = counts_at + 4 * height
    ifd = struct.pack(f"{order}H", len(entries))
    for tag, kind, count, value in entries:
        at = {273: offsets_at, 279: counts_at}.get(tag, value)
        ifd += struct.pack(f"{order}HHIH2x" if kind == 3 else f"{order}HHII", tag, kind, count, at)
    magic = b"MM\x00*" if big_endian else b"II*\x00"
    return (
        magic
        + struct.pack(f"{order}I", 8)
        + ifd
        + struct.pack(f"{order}I", 0)
        + struct.pack(f"{order}{height}I", *[data_at] * height)
        + struct.pack(f"{order}{height}I", *[len(row)] * height)
        + row
    )


def pgm_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PGM header declaring 10 gigapixels, with a comment where a naive parser looks for the size."""
    return f"P5\n# made by a test\n{width} {height}\n255\n".encode() + b"\0" * 64


def gif_bomb(width: int = 60_000, height: int = 60_000, *, in_frame: bool = False) -> bytes:
    """A GIF declaring width×height on its screen or, with ``in_frame``, only in its first frame's descriptor."""
    screen = (16, 16) if in_frame else (width, height)
    frame = (width, height) if in_frame else (16, 16)
    header = b"GIF89a" + struct.pack("<HHBBB", *screen, 0, 0, 0)
    comment = b"\x21\xfe\x04test\x00"
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, *frame, 0)
    return header + comment + descriptor + b"\x02\x02\x44\x01\x00\x3b"
