"""Reading photos from disk safely: every failure becomes one ImageError line.

A photo's header is read before anything is decoded: an image declaring more than
:data:`MAX_PIXELS` (a "decompression bomb": a few kilobytes that decode to gigabytes) is
refused from its header (PNG, JPEG, BMP, WebP, GIF), and a JPEG or PNG that stops before its
end marker is refused as truncated (decoders would otherwise fill the missing part with grey
and enrol it). Greyscale, 16-bit, palette and alpha images are converted to 8-bit BGR.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from edgeface.errors import ConfigError, ImageError
from edgeface.values import Image

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
"""What enrolment, the benchmarks and the folder camera take as photos: one list for all of them."""

MAX_PIXELS = 40_000_000
"""Larger images are refused before decoding (a PNG bomb would otherwise take gigabytes)."""
MAX_BYTES = 64 * 1024 * 1024

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _unreadable(name: str) -> ImageError:
    return ImageError(f"{name}: not a readable image (corrupt, truncated or not a picture)")


def _jpeg_header(data: bytes, name: str) -> tuple[int, int]:
    """The frame size of a JPEG, checking it is complete (an EOI marker after the first scan)."""
    pos, size = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise _unreadable(name)
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (int(width), int(height))
        if marker == 0xDA:  # start of scan: the headers are over
            if size is None:
                break
            if data.rfind(b"\xff\xd9") < pos:
                raise ImageError(f"{name}: truncated JPEG (the file ends inside the image data)")
            return size
        pos += 2 + length
    raise _unreadable(name)


def _header_size(data: bytes, name: str) -> tuple[int, int] | None:
    """Width and height declared by the header, for the formats checked before decoding; None for others."""
    if data.startswith(_PNG):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise _unreadable(name)
        if b"IEND" not in data[-64:]:
            raise ImageError(f"{name}: truncated PNG (no IEND chunk at the end)")
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_header(data, name)
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return int(width) & 0x3FFF, int(height) & 0x3FFF
    return None


def decode_image(data: bytes, name: str) -> Image:
    """Decode JPEG/PNG/... bytes to a BGR uint8 image (greyscale, 16-bit and alpha are converted)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    size = _header_size(data, name)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(f"{name}: image is {size[0]}×{size[1]}, larger than {MAX_PIXELS} pixels")
    if size and 0 in size:
        raise ImageError(f"{name}: image is {size[0]}×{size[1]}: nothing to decode")
    # IMREAD_COLOR turns greyscale into BGR, drops alpha, scales 16-bit to 8-bit and applies EXIF rotation.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise _unreadable(name)
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise ImageError(f"{name}: image is {image.shape[1]}×{image.shape[0]}, larger than {MAX_PIXELS} pixels")
    return np.asarray(image, dtype=np.uint8)


def read_image_file(path: Path) -> bytes:
    """The bytes of an image file, refusing oversized files with an ImageError."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ImageError(f"{path}: file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from exc


def load_image(path: Path) -> Image:
    return decode_image(read_image_file(path), str(path))


def encode_jpeg(image: Image, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("cannot encode image as JPEG")
    return buf.tobytes()


def has_photo_suffix(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def is_photo(path: Path) -> bool:
    return path.is_file() and has_photo_suffix(path)


def photos_under(folder: Path) -> list[Path]:
    """Every photo below a folder, recursively, in a stable order."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of photos")
    return sorted(p for p in folder.rglob("*") if is_photo(p))
