"""Reading photos from disk safely: every failure becomes one ImageError line."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from edgeface.errors import ImageError
from edgeface.values import Image

MAX_PIXELS = 40_000_000
"""Larger images are refused before decoding (a PNG bomb would otherwise take gigabytes)."""
MAX_BYTES = 64 * 1024 * 1024


def _png_size(head: bytes) -> tuple[int, int] | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    return None


def decode_image(data: bytes, name: str) -> Image:
    """Decode JPEG/PNG/... bytes to a BGR uint8 image (greyscale, 16-bit and alpha are converted)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    size = _png_size(data[:32])
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(f"{name}: image is {size[0]}×{size[1]}, larger than {MAX_PIXELS} pixels")
    # IMREAD_COLOR turns greyscale into BGR, drops alpha, scales 16-bit to 8-bit and applies EXIF rotation.
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{name}: not a readable image (corrupt, truncated or not a picture)")
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
