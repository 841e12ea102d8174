"""Bad input: invalid configs, unreadable or hostile photos, and files with the wrong owner or mode.

Each is refused with one line that names what is wrong (the config key, the file, the mode), and
leaves nothing changed: no half-enrolled person, no widened permission.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edgeface.config import load_config
from edgeface.daemon.preflight import check_model_files
from edgeface.errors import ImageError, ModelError, PermissionsError
from edgeface.ops.enroll import Outcome, enroll_photos
from edgeface.storage.people import Store
from edgeface.vision.images import decode_image
from edgeface.vision.recognize import Recognizer
from tests.support.bombs import gif_bomb, pgm_bomb, tiff_bomb
from tests.support.cli import run_edgeface
from tests.support.configs import write_config
from tests.support.data import LIN
from tests.support.models import REPO_MODELS
from tests.support.scenes import empty_scene

pytestmark = pytest.mark.slow

NOBODY = 65534
Change = Callable[[Path], object]


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("edgeface: error: "), lines[0]
    return lines[0]


# --- configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "key", "problem"),
    [
        ({"camera": {"fsp": 10}}, "camera.fsp", "Extra inputs are not permitted"),
        ({"camera": {"fps": "fast"}}, "camera.fps", "valid number"),
        ({"relay": {"pin": 40}}, "relay.pin", "less than or equal to 27"),
        ({"relay": {"pin": "GPIO17"}}, "relay.pin", "valid integer"),
        ({"match": {"threshold": 1.5}}, "match.threshold", "less than or equal to 1"),
        ({"detector": {"score_threshold": 0}}, "detector.score_threshold", "greater than 0"),
        ({"mqtt": {"remote_unlock": {"secret": "short"}}}, "mqtt.remote_unlock.secret", "at least 16 characters"),
        (
            {"mqtt": {"remote_unlock": {"max_seconds": -1}}},
            "mqtt.remote_unlock.max_seconds",
            "greater than or equal to 0.1",
        ),
        ({"mqtt": {"prefix": "site/#"}}, "mqtt.prefix", "not a usable topic prefix"),
        ({"relay": {"pulse_seconds": 5e-324}}, "relay.pulse_seconds", "greater than or equal to 0.1"),
        ({"daemon": {"decisions_per_minute": 0}}, "daemon.decisions_per_minute", "greater than or equal to 1"),
        ({"store": {"image_retention_days": 0}}, "store.image_retention_days", "greater than 0"),
        ({"embedder": {"model": "missing.onnx"}}, "embedder.model", "model file not found"),
        ({"detector": {"model": "gone.onnx", "sha256": None}}, "detector.model", "model file not found"),
    ],
)
def test_edgeface_run_refuses_a_bad_config_with_one_line_naming_the_key(
    tmp_path: Path, sections: dict[str, object], key: str, problem: str
) -> None:
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(empty_scene(tmp_path / "cam"))})
    data = yaml.safe_load(config.read_text())
    for name, value in sections.items():
        data[name] = {**data.get(name, {}), **value} if isinstance(value, dict) else value
    config.write_text(yaml.safe_dump(data))
    line = one_error_line(run_edgeface("--config", str(config), "run"))
    assert f"{key}: " in line and problem in line, line
    assert not (tmp_path / "state" / "outbox.db").exists(), "refused before the state was touched"


def test_config_check_reports_the_same_key_paths(tmp_path: Path) -> None:
    config = tmp_path / "edgeface.yaml"
    config.write_text("camera: {fps: fast}\nrelay: {pin: 99}\nmqtt: {prefix: x/#, remote_unlock: {per_minute: 0}}\n")
    done = run_edgeface("config", "check", str(config))
    assert done.returncode == 1
    # One error line per problem (issue 12: several problems on one line were hard to read).
    lines = done.stderr.strip().splitlines()
    keys = ("camera.fps", "relay.pin", "mqtt.prefix", "mqtt.remote_unlock.per_minute")
    assert [line.startswith(f"edgeface: error: {config}: ") for line in lines] == [True] * len(keys), lines
    for key in keys:
        assert sum(f"{config}: {key}: " in line for line in lines) == 1, lines


def test_a_missing_model_is_named_by_its_config_key_before_anything_loads(tmp_path: Path) -> None:
    config = tmp_path / "edgeface.yaml"
    config.write_text(f"models_dir: {tmp_path}\n")
    with pytest.raises(ModelError, match=r"^detector\.model: .*face_detection_yunet.*: model file not found"):
        check_model_files(load_config(config))


# --- photos for enrolment ---------------------------------------------------------------------------------------


def png_bomb(width: int = 200_000, height: int = 200_000) -> bytes:
    """A PNG of a few hundred bytes that declares 40 gigapixels (its rows are all zero, deflated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * (width + 1) * 4, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def jpeg_bomb() -> bytes:
    """A real JPEG whose frame header is rewritten to claim 60000×60000."""
    data = bytearray(LIN.read_bytes())
    sof = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2))
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)
    return bytes(data)


def _bad_photos(tmp: Path) -> dict[str, tuple[Path, str]]:
    jpeg = LIN.read_bytes()
    png = cv2.imencode(".png", cv2.imread(str(LIN)))[1].tobytes()
    cases = {
        "truncated.jpg": (jpeg[: len(jpeg) * 2 // 3], "truncated JPEG"),
        "truncated.png": (png[: len(png) // 2], "truncated PNG"),
        "bomb.png": (png_bomb(), "larger than 40000000 pixels"),
        "bomb.jpg": (jpeg_bomb(), "larger than 40000000 pixels"),
        "empty.jpg": (b"", "empty file"),
        "notes.jpg": (b"these are not the pixels you are looking for\n" * 20, "not a readable image"),
        "script.png": (b"#!/bin/sh\nrm -rf /\n", "not a readable image"),
    }
    paths = {}
    for name, (data, message) in cases.items():
        path = tmp / name
        path.write_bytes(data)
        paths[name] = (path, message)
    return paths


def store_dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def test_bad_photos_are_refused_with_a_message_and_leave_the_store_unchanged(
    tmp_path: Path, recognizer: Recognizer
) -> None:
    store_path = tmp_path / "state" / "people.db"
    with Store(store_path) as store:
        list(enroll_photos(recognizer, store, [("lin", LIN)]))
    before = store_dump(store_path)
    photos = _bad_photos(tmp_path)
    with Store(store_path) as store:
        results = list(enroll_photos(recognizer, store, [("mallory", path) for path, _ in photos.values()]))
    for result, (path, message) in zip(results, photos.values(), strict=True):
        assert result.outcome is Outcome.UNREADABLE, (path.name, result)
        assert message in result.detail and str(path) in result.detail, (path.name, result.detail)
        assert "\n" not in result.detail
    assert store_dump(store_path) == before


def test_a_png_bomb_is_refused_from_its_header_without_decoding() -> None:
    bomb = png_bomb(100_000, 100_000)
    assert len(bomb) < 20_000
    with pytest.raises(Exception, match="100000×100000, larger than"):
        decode_image(bomb, "bomb.png")


def test_a_tiff_bomb_named_jpg_is_refused_from_its_header_in_little_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "holiday.jpg"  # a TIFF: the name says JPEG, the content decides
    bomb.write_bytes(tiff_bomb(30_000, 30_000))  # OpenCV's own limit (2^30 pixels) lets this one through
    assert bomb.stat().st_size < 1_000_000
    probe = (
        "import sys\nfrom pathlib import Path\nfrom edgeface.vision.images import load_image\n"
        "try:\n    load_image(Path(sys.argv[1]))\nexcept Exception as exc:\n    print(exc)\n"
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", probe, str(bomb)], capture_output=True, text=True, timeout=120, check=False
    )
    message, peak_kib = child.stdout.splitlines()  # VmHWM: this process's peak resident memory
    assert message == f"{bomb}: image is 30000×30000, larger than 40000000 pixels; resize it to 6324×6324 or less"
    assert int(peak_kib) < 250 * 1024, f"refusing the bomb took {int(peak_kib) // 1024} MiB (decoding it: 5.4 GB)"


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (tiff_bomb(40_000, 40_000), "40000×40000"),
        (tiff_bomb(40_000, 40_000, big_endian=True), "40000×40000"),
        (pgm_bomb(), "100000×100000"),
        (gif_bomb(), "60000×60000"),
        (gif_bomb(in_frame=True), "60000×60000"),
    ],
    ids=["tiff", "tiff-big-endian", "pgm", "gif-screen", "gif-frame"],
)
def test_bombs_in_every_format_decoded_are_refused_from_their_header(data: bytes, size: str) -> None:
    with pytest.raises(ImageError, match=f"^bomb: image is {size}, larger than 40000000 pixels; resize it to "):
        decode_image(data, "bomb")


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [(".jp2", "JPEG 2000"), (".pfm", "PFM"), (".hdr", "Radiance HDR"), (".sr", "Sun raster"), (".pam", "PAM"),
     (".avif", "AVIF/HEIF")],
)  # fmt: skip
def test_formats_whose_size_is_not_checked_are_refused_by_name(suffix: str, kind: str) -> None:
    ok, encoded = cv2.imencode(suffix, cv2.imread(str(LIN)))
    assert ok and cv2.imdecode(encoded, cv2.IMREAD_COLOR) is not None, "OpenCV itself would decode it"
    with pytest.raises(ImageError, match=f"^lin.jpg: {kind} images are not read \\(use JPEG, PNG, BMP, WebP"):
        decode_image(encoded.tobytes(), "lin.jpg")


def test_opencv_prints_nothing_of_its_own_for_broken_gif_pgm_and_tiff_photos(tmp_path: Path) -> None:
    bgr = cv2.imread(str(LIN))
    photos = []
    for suffix in (".gif", ".pgm", ".tif"):
        data = cv2.imencode(suffix, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if suffix == ".pgm" else bgr)[1].tobytes()
        photos.append(tmp_path / f"broken{suffix}")
        photos[-1].write_bytes(data[: len(data) // 2])
    config = write_config(tmp_path / "edgeface.yaml")
    result = run_edgeface("--config", str(config), "enroll", "mallory", *map(str, photos))
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("skipped ") for line in lines), lines
    assert all("unreadable — " in line for line in lines), lines


@pytest.mark.parametrize("kind", ["grey.jpg", "grey.png", "grey16.png", "colour16.png", "alpha.png"])
def test_greyscale_16_bit_and_alpha_photos_are_converted_and_enrolled(
    tmp_path: Path, recognizer: Recognizer, kind: str
) -> None:
    bgr = cv2.imread(str(LIN))
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    images = {
        "grey.jpg": grey,
        "grey.png": grey,
        "grey16.png": grey.astype(np.uint16) * 257,
        "colour16.png": bgr.astype(np.uint16) * 257,
        "alpha.png": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
    }
    path = tmp_path / kind
    assert cv2.imwrite(str(path), images[kind])
    with Store(tmp_path / "state" / "people.db") as store:
        (result,) = enroll_photos(recognizer, store, [("lin", path)])
        assert result.outcome is Outcome.ENROLLED, result
        assert [p.name for p in store.people()] == ["lin"]


# --- files with the wrong mode or owner --------------------------------------------------------------------------


def run_with_state(tmp_path: Path, prepare: Change) -> str:
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(empty_scene(tmp_path / "cam"))})
    state = tmp_path / "state"
    with Store(state / "people.db"):
        pass
    prepare(state)
    return one_error_line(run_edgeface("--config", str(config), "run"))


def test_a_store_readable_by_others_is_refused_and_not_widened_or_fixed(tmp_path: Path) -> None:
    line = run_with_state(tmp_path, lambda state: (state / "people.db").chmod(0o644))
    assert "people.db: file has mode 0644, readable by others" in line, line
    assert stat.S_IMODE((tmp_path / "state" / "people.db").stat().st_mode) == 0o644, "left as it was"


def test_a_state_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    line = run_with_state(tmp_path, lambda state: state.chmod(0o755))
    assert "state: directory has mode 0755" in line, line
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o755


def test_a_store_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "chown needs root (CI runs the tests as root)"
    line = run_with_state(tmp_path, lambda state: os.chown(state / "people.db", NOBODY, NOBODY))
    assert f"people.db: file is owned by uid {NOBODY}, not by this user" in line, line
    assert (tmp_path / "state" / "people.db").stat().st_uid == NOBODY


@pytest.fixture
def models_copy(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    models.mkdir(mode=0o755)
    # Every file the default config runs (detector, embedder, liveness), as the repository ships them.
    for _role, path, _sha256 in load_config(None).model_files():
        shutil.copy(REPO_MODELS / path.name, models / path.name)
        (models / path.name).chmod(0o644)
    return models


EMBEDDER = "mobilefacenet_foamliu_int8.onnx"


def group_writable(path: Path, gid: int) -> None:
    path.chmod(0o664)
    os.chown(path, 0, gid)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: (m / EMBEDDER).chmod(0o666), "the file is not protected (mode 0666 lets every user write it)"),
        (lambda m: (m / EMBEDDER).chmod(0o646), "mode 0646 lets every user write it"),
        (lambda m: os.chown(m / EMBEDDER, NOBODY, 0), f"owned by uid {NOBODY}, not by root or this user"),
        (lambda m: m.chmod(0o777), "the folder is not protected (mode 0777 lets every user write it)"),
        (lambda m: group_writable(m / EMBEDDER, NOBODY), f"mode 0664 lets group {NOBODY} write it"),
    ],
    ids=["world-writable", "other-writable", "owned-by-nobody", "folder-world-writable", "group-writable"],
)
def test_a_model_others_could_change_is_refused_and_left_as_it_was(
    tmp_path: Path, models_copy: Path, change: Change, message: str
) -> None:
    change(models_copy)
    before = {p.name: p.stat() for p in [models_copy, *models_copy.iterdir()]}
    config = write_config(
        tmp_path / "edgeface.yaml", models_dir=str(models_copy), camera={"path": str(empty_scene(tmp_path / "cam"))}
    )
    line = one_error_line(run_edgeface("--config", str(config), "run"))
    assert "embedder.model: " in line or "detector.model: " in line, line
    assert message in line, line
    after = {p.name: p.stat() for p in [models_copy, *models_copy.iterdir()]}
    assert {k: (v.st_mode, v.st_uid, v.st_gid) for k, v in after.items()} == {
        k: (v.st_mode, v.st_uid, v.st_gid) for k, v in before.items()
    }


def test_a_read_only_model_readable_by_all_is_fine(models_copy: Path) -> None:
    (models_copy / EMBEDDER).chmod(0o444)
    cfg = load_config(None).model_copy(update={"models_dir": models_copy})
    check_model_files(cfg)


def test_permission_errors_are_edgeface_errors_with_the_path(tmp_path: Path, models_copy: Path) -> None:
    (models_copy / EMBEDDER).chmod(0o666)
    cfg = load_config(None).model_copy(update={"models_dir": models_copy})
    with pytest.raises(PermissionsError, match=rf"embedder\.model: {models_copy / EMBEDDER}: "):
        check_model_files(cfg)


def test_a_photo_too_large_to_read_is_refused_with_the_size_to_resize_it_to(tmp_path: Path) -> None:
    photo = tmp_path / "camera_raw.png"
    cv2.imwrite(str(photo), np.zeros((8000, 8000, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    config = write_config(tmp_path / "edgeface.yaml")
    done = run_edgeface("--config", str(config), "identify", str(photo))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"edgeface: error: {photo}: image is 8000×8000, larger than 40000000 pixels; resize it to 6324×6324 or less"
    ]
