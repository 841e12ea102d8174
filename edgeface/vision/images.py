"""Reading photos from disk safely: every failure becomes one ImageError line.

What a file is comes from its content, never from its name: a TIFF renamed ``.jpg`` is read as a
TIFF. Only formats whose header is parsed here reach the decoder (JPEG, PNG, BMP, WebP, TIFF, GIF
and PNM); every other format OpenCV could decode (JPEG 2000, AVIF, OpenEXR, Radiance HDR, PFM,
PAM, Sun raster) is refused by name, because its size cannot be checked first. From the header,
an image declaring more than :data:`MAX_PIXELS` is refused before anything is decoded (a
"decompression bomb": a TIFF of 875 KB declaring 30000×30000 decodes to 5.4 GB), and a JPEG or
PNG that stops before its end marker is refused as truncated (decoders would otherwise fill the
missing part with grey and enrol it). Greyscale, 16-bit, palette and alpha images are converted
to 8-bit BGR. OpenCV's own log lines are silenced while it decodes: the ImageError says it once.
"""

from __future__ import annotations

import math
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from edgeface.errors import ConfigError, ImageError
from edgeface.values import Image

PHOTO_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pbm", ".pgm", ".ppm", ".pnm"}
)
"""What enrolment, the benchmarks and the folder camera list as photos by name (content decides the rest)."""

IMPOSTOR_FOLDER = "unknown"
"""In a labelled ``faces/`` folder, the photos of strangers: enrolment skips it, the benchmarks probe with it."""

MAX_PIXELS = 40_000_000
"""Larger images are refused before decoding (a PNG bomb would otherwise take gigabytes)."""
MAX_BYTES = 64 * 1024 * 1024
READ_FORMATS = "JPEG, PNG, BMP, WebP, TIFF, GIF or PNM"

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_PNM = re.compile(rb"P[1-6]\s")
_TIFF_TYPES = {3: "H", 4: "I"}  # SHORT, LONG: the integer types a size or sample tag may use
_TIFF_WIDTH, _TIFF_HEIGHT, _TIFF_BITS, _TIFF_SAMPLES = 256, 257, 258, 277
_TIFF_MAX_SAMPLES, _TIFF_MAX_BITS = 4, 16
_MAGIC = (  # how each format OpenCV decodes begins; only those in _HEADERS are read
    (_PNG, "PNG"),
    (b"\xff\xd8", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"v/1\x01", "OpenEXR"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"),
    (b"PF", "PFM"),
    (b"Pf", "PFM"),
    (b"P7", "PAM"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
)


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


def _tiff_header(data: bytes, name: str) -> tuple[int, int]:
    """The size of a TIFF's first page (the one OpenCV decodes), refusing samples too wide to bound."""
    order = "<" if data.startswith(b"II") else ">"
    try:
        (ifd,) = struct.unpack_from(f"{order}I", data, 4)
        (count,) = struct.unpack_from(f"{order}H", data, ifd)
        tags: dict[int, int] = {}
        for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
            tag, kind, values = struct.unpack_from(f"{order}HHI", data, entry)
            if kind in _TIFF_TYPES and values:
                code = _TIFF_TYPES[kind]
                # Values that fit in 4 bytes sit in the entry itself; longer lists are at an offset.
                (where,) = (
                    struct.unpack_from(f"{order}I", data, entry + 8)
                    if values * struct.calcsize(code) > 4
                    else (entry + 8,)
                )
                (tags[tag],) = struct.unpack_from(f"{order}{code}", data, where)
    except struct.error:
        raise _unreadable(name) from None
    if _TIFF_WIDTH not in tags or _TIFF_HEIGHT not in tags:
        raise _unreadable(name)
    samples, bits = tags.get(_TIFF_SAMPLES, 1), tags.get(_TIFF_BITS, 1)
    if samples > _TIFF_MAX_SAMPLES or bits > _TIFF_MAX_BITS:
        raise ImageError(f"{name}: TIFF of {samples}×{bits}-bit samples per pixel is not read (convert it to 8 bits)")
    return tags[_TIFF_WIDTH], tags[_TIFF_HEIGHT]


def _gif_header(data: bytes, name: str) -> tuple[int, int]:
    """The larger of a GIF's screen and its first frame (a frame may claim more than the screen)."""
    if len(data) < 13:
        raise _unreadable(name)
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while pos < len(data):
        block = data[pos]
        if block == 0x2C:  # the first image descriptor
            if pos + 9 > len(data):
                break
            left, top, w, h = struct.unpack_from("<HHHH", data, pos + 1)
            return max(width, left + w), max(height, top + h)
        if block != 0x21 or pos + 2 >= len(data):  # only extensions may come before the first frame
            break
        pos += 2  # introducer and label, then sub-blocks up to an empty one
        while pos < len(data) and data[pos]:
            pos += 1 + data[pos]
        pos += 1
    raise _unreadable(name)


def _pnm_header(data: bytes, name: str) -> tuple[int, int]:
    """Width and height of a PBM/PGM/PPM: the two numbers after the magic, comments skipped."""
    head = re.sub(rb"#[^\n]*", b" ", data[2:256])
    fields = head.split()
    if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
        raise _unreadable(name)
    return int(fields[0]), int(fields[1])


def _webp_header(data: bytes, name: str) -> tuple[int, int]:
    chunk = data[12:16]
    if len(data) >= 30 and chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if len(data) >= 25 and chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if len(data) >= 30 and chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    raise _unreadable(name)


def _bmp_header(data: bytes, name: str) -> tuple[int, int]:
    if len(data) < 26:
        raise _unreadable(name)
    if int.from_bytes(data[14:18], "little") == 12:  # the old OS/2 header has 16-bit sizes
        width, height = struct.unpack_from("<HH", data, 18)
        return int(width), int(height)
    width, height = struct.unpack_from("<ii", data, 18)
    return abs(int(width)), abs(int(height))


def _png_header(data: bytes, name: str) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _unreadable(name)
    if b"IEND" not in data[-64:]:
        raise ImageError(f"{name}: truncated PNG (no IEND chunk at the end)")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def image_kind(data: bytes) -> str | None:
    """The image format the content begins like (any OpenCV decodes, read here or not); None if none."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        return "AVIF/HEIF"
    return "PNM" if _PNM.match(data) else None


_HEADERS = {
    "PNG": _png_header,
    "JPEG": _jpeg_header,
    "TIFF": _tiff_header,
    "GIF": _gif_header,
    "BMP": _bmp_header,
    "WebP": _webp_header,
    "PNM": _pnm_header,
}
"""The formats decoded: each one's header is parsed for its size before the decoder sees it."""


def header_size(data: bytes, name: str) -> tuple[int, int]:
    """Width and height the header declares, from the content; ImageError for anything not read here."""
    kind = image_kind(data)
    if kind is None:
        raise _unreadable(name)
    if kind not in _HEADERS:
        raise ImageError(f"{name}: {kind} images are not read (use {READ_FORMATS})")
    return _HEADERS[kind](data, name)


class _QuietOpenCV:
    """Silences OpenCV's log while any thread decodes, restoring the level when the last one is done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._level = 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._users:
                self._level = cv2.utils.logging.getLogLevel()
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if not self._users:
                    cv2.utils.logging.setLogLevel(self._level)


quiet_opencv = _QuietOpenCV()  # one per process: OpenCV's log level is process-wide
"""``with quiet_opencv():`` OpenCV logs nothing; whoever calls it reports the failure in its own words."""


def decode_image(data: bytes, name: str) -> Image:
    """Decode JPEG/PNG/... bytes to a BGR uint8 image (greyscale, 16-bit and alpha are converted)."""
    if not data:
        raise ImageError(f"{name}: empty file")
    width, height = header_size(data, name)
    if width * height > MAX_PIXELS:
        raise _too_large(name, width, height)
    if not width or not height:
        raise ImageError(f"{name}: image is {width}×{height}: nothing to decode")
    # IMREAD_COLOR turns greyscale into BGR, drops alpha, scales 16-bit to 8-bit and applies EXIF rotation.
    with quiet_opencv():
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise _unreadable(name)
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise _too_large(name, image.shape[1], image.shape[0])
    return np.asarray(image, dtype=np.uint8)


def _too_large(name: str, width: int, height: int) -> ImageError:
    """The refusal of an image over :data:`MAX_PIXELS`, with the largest size of the same shape that is read."""
    scale = math.sqrt(MAX_PIXELS / (width * height))
    fits = f"{max(1, math.floor(width * scale))}×{max(1, math.floor(height * scale))}"
    return ImageError(
        f"{name}: image is {width}×{height}, larger than {MAX_PIXELS} pixels; resize it to {fits} or less"
    )


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


def encode_image(image: Image, path: Path) -> bytes:
    """The image encoded in the format its file name asks for (``.jpg``, ``.png``, ...)."""
    try:
        ok, buf = cv2.imencode(path.suffix.lower() or ".jpg", image)
    except cv2.error:
        ok = False
    if not ok:
        raise ImageError(f"{path}: cannot encode an image in this format (use .jpg or .png)")
    return bytes(buf.tobytes())


def has_photo_suffix(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def is_photo(path: Path) -> bool:
    return path.is_file() and has_photo_suffix(path)


def photos_under(folder: Path) -> list[Path]:
    """Every photo below a folder, recursively, in a stable order."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of photos")
    return sorted(p for p in folder.rglob("*") if is_photo(p))
