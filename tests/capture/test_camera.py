"""Capture on real data: the shared clip and real photos copied into a folder."""

from __future__ import annotations

import itertools
import logging
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgeface.capture.camera import Camera, LatestFrameGrabber, open_camera
from edgeface.capture.sources import FileSource, OpenCVSource
from edgeface.config import CameraConfig
from edgeface.errors import CameraError
from edgeface.vision.images import load_image
from tests.support.broker import free_port
from tests.support.cli import run_edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, VIDEO

CLIP = VIDEO / "short_hamilton_clip.mp4"
PHOTOS = [FACES / "barack_obama" / "1.jpg", FACES / "joe_biden" / "1.jpg", FACES / "nicole_kidman" / "1.jpg"]


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Three real photos named so that sorted order differs from copy order, plus a file to ignore."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, photo in zip(["c.jpg", "a.jpg", "b.JPG"], PHOTOS, strict=True):
        shutil.copy(photo, folder / name)
    (folder / "notes.txt").write_text("not a picture")
    return folder


def outage_logs(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "edgeface.capture.camera" and r.levelno == level]


def drain(camera: Camera) -> None:
    while camera.read(0.3) is not None:
        pass


def test_clip_frames_are_bgr_timestamped_and_counted() -> None:
    with open_camera(CameraConfig(fps=60), CLIP) as camera:
        frames = [camera.read(2.0) for _ in range(5)]
    assert all(f is not None for f in frames)
    indices = [f.index for f in frames if f is not None]
    assert indices == sorted(set(indices))
    assert indices[0] == 0
    for frame in frames:
        assert frame is not None
        assert frame.image.shape == (360, 640, 3)
        assert frame.image.dtype == np.uint8
        assert abs(time.time() - frame.ts) < 2.0


def test_clip_plays_at_the_configured_rate() -> None:
    with open_camera(CameraConfig(fps=20), CLIP) as camera:
        time.sleep(1.0)
        read = camera.stats.frames_read
    assert 15 <= read <= 24  # 20 per second in real time, not as fast as the disk allows


def test_a_slow_consumer_gets_recent_frames_not_a_backlog() -> None:
    with open_camera(CameraConfig(fps=60), CLIP) as camera:
        indices = []
        for _ in range(4):
            frame = camera.read(2.0)
            assert frame is not None
            indices.append(frame.index)
            time.sleep(0.25)  # a slow pipeline
        stats = camera.stats
    gaps = [b - a for a, b in itertools.pairwise(indices)]
    assert all(gap >= 8 for gap in gaps), gaps  # ~15 frames arrive per 0.25 s; the stale ones are skipped
    assert stats.frames_returned == 4
    assert stats.frames_read > indices[-1]


def test_read_never_returns_the_same_frame_twice() -> None:
    with open_camera(CameraConfig(fps=5), CLIP) as camera:
        first = camera.read(2.0)
        assert first is not None
        assert camera.read(0.0) is None
        second = camera.read(2.0)
        assert second is not None
        assert second.index == first.index + 1


def test_folder_plays_in_sorted_order_and_loops(photo_folder: Path) -> None:
    expected = [load_image(photo_folder / name) for name in ["a.jpg", "b.JPG", "c.jpg"]]
    with open_camera(CameraConfig(fps=40, loop=True), photo_folder) as camera:
        seen: list[int] = []
        while not seen or seen[-1] < 7:
            frame = camera.read(2.0)
            assert frame is not None
            assert np.array_equal(frame.image, expected[frame.index % 3])
            seen.append(frame.index)
        assert camera.stats.ended is False


def test_folder_without_loop_ends(photo_folder: Path) -> None:
    with open_camera(CameraConfig(fps=40, loop=False), photo_folder) as camera:
        time.sleep(0.3)
        assert camera.stats.ended
        assert camera.stats.frames_read == 3
        assert camera.read(2.0) is not None  # the last frame is still there once
        started = time.monotonic()
        assert camera.read(2.0) is None
        assert time.monotonic() - started < 0.5, "an ended file must not make read wait for its timeout"


def test_vanished_folder_is_logged_once_retried_and_recovers(
    photo_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="edgeface.capture.camera")
    away = tmp_path / "away"
    with open_camera(CameraConfig(fps=40, reopen_max_seconds=0.2), photo_folder) as camera:
        assert camera.read(2.0) is not None
        photo_folder.rename(away)
        time.sleep(1.0)  # several reopen attempts: 0.1, 0.2, 0.2, ...
        drain(camera)
        assert camera.stats.online is False
        assert len(outage_logs(caplog, logging.WARNING)) == 1
        assert len([m for m in outage_logs(caplog, logging.DEBUG) if "reopen failed" in m]) >= 3
        away.rename(photo_folder)
        frame = camera.read(3.0)
        assert frame is not None, "the same Camera object must deliver frames again"
        stats = camera.stats
    assert stats.online
    assert stats.reconnects == 1
    assert len(outage_logs(caplog, logging.WARNING)) == 1
    assert len([m for m in outage_logs(caplog, logging.INFO) if "is back" in m]) == 1


def test_a_camera_missing_at_start_is_waited_for_as_an_outage_when_asked(
    photo_folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.capture.camera")
    away = tmp_path / "away"
    photo_folder.rename(away)
    with pytest.raises(CameraError, match="no such video file or image folder"):
        open_camera(CameraConfig(fps=40, reopen_max_seconds=0.2), photo_folder)
    with open_camera(CameraConfig(fps=40, reopen_max_seconds=0.2), photo_folder, wait=True) as camera:
        assert camera.read(0.5) is None and camera.stats.online is False
        away.rename(photo_folder)
        assert camera.read(3.0) is not None, "frames once the camera is there"
        assert camera.stats.online
    assert outage_logs(caplog, logging.WARNING) == [
        f"{photo_folder}: no such video file or image folder; retrying (backoff up to 0.2 s)"
    ]
    assert outage_logs(caplog, logging.INFO) == [f"camera {photo_folder} is back"]


def test_vanished_clip_is_logged_once_and_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.capture.camera")
    clip = tmp_path / "door.mp4"
    shutil.copy(CLIP, clip)
    with open_camera(CameraConfig(fps=30, reopen_max_seconds=0.2), clip) as camera:
        before = camera.read(2.0)
        assert before is not None
        clip.rename(tmp_path / "door.bak")
        time.sleep(0.8)
        drain(camera)
        (tmp_path / "door.bak").rename(clip)
        after = camera.read(3.0)
        assert after is not None
        assert after.index > before.index
        assert camera.stats.reconnects == 1
    assert len(outage_logs(caplog, logging.WARNING)) == 1
    assert "door.mp4" in outage_logs(caplog, logging.WARNING)[0]


def bytes_read() -> int:
    """What this process has read so far, from files and sockets alike."""
    match = re.search(r"^rchar: (\d+)$", Path("/proc/self/io").read_text(), re.M)
    assert match is not None
    return int(match.group(1))


def test_a_refused_picture_is_reported_once_and_not_read_again_until_it_changes(
    photo_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    junk = photo_folder / "d.jpg"
    junk.write_bytes(b"not a picture, " * 1_000_000)  # 15 MB that every pass over the folder would read again
    source = FileSource(photo_folder, fps=30, loop=True)
    source.open()
    try:
        for _ in range(4):  # the first pass: three photos, then the junk (d.jpg) refused on the way back to a.jpg
            assert source.grab() is not None
        before = bytes_read()
        for _ in range(30):  # ten more passes
            assert source.grab() is not None
        photos = sum(p.stat().st_size for p in photo_folder.iterdir() if p != junk)
        assert bytes_read() - before < 10 * photos + junk.stat().st_size // 2, "the refused file was read again"
        assert len([r for r in caplog.records if "skipping" in r.getMessage()]) == 1
        shutil.copy(PHOTOS[0], junk)  # replaced by a photo: read again, and shown
        shown = [source.grab() for _ in range(4)]
        assert sum(image is not None and np.array_equal(image, load_image(PHOTOS[0])) for image in shown) == 2
    finally:
        source.close()


def test_missing_or_unreadable_sources_fail_at_open(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match=r"nope\.mp4: no such video file or image folder"):
        open_camera(CameraConfig(), tmp_path / "nope.mp4")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(CameraError, match=r"fake\.mp4: not a video"):
        open_camera(CameraConfig(), fake)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CameraError, match="no images"):
        open_camera(CameraConfig(), empty)


def test_opencv_backend_reads_without_pacing() -> None:
    # A file path is a valid OpenCV "device": this drives the backend with real frames.
    source = OpenCVSource(str(CLIP), width=640, height=360, fps=15)
    with LatestFrameGrabber(source) as camera:
        time.sleep(0.3)
        frame = camera.read(2.0)
        assert frame is not None
        assert frame.image.shape == (360, 640, 3)
        assert camera.stats.frames_read > 15  # live sources are read as fast as they deliver


def test_opencv_backend_errors_name_the_device_without_credentials(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="cannot open"):
        open_camera(CameraConfig(source="opencv", device=str(tmp_path / "video99")), tmp_path)
    source = OpenCVSource("rtsp://admin:s3cret@10.0.0.5:554/stream1", width=640, height=480, fps=15)
    assert "s3cret" not in source.name
    assert source.name == "rtsp://***@10.0.0.5:554/stream1"


def test_close_wakes_a_blocked_reader_and_is_idempotent() -> None:
    camera = open_camera(CameraConfig(fps=0.5), CLIP)
    assert camera.read(2.0) is not None
    results: list[object] = []
    reader = threading.Thread(target=lambda: results.append(camera.read(10.0)))
    reader.start()
    time.sleep(0.1)
    started = time.monotonic()
    camera.close()
    reader.join(2.0)
    assert results == [None]
    assert time.monotonic() - started < 1.0, "close must not wait out the 2 s frame period"
    camera.close()
    assert camera.read(0.1) is None


class UnpluggableSource:
    """A camera that can be unplugged: grab fails, and open fails until it is plugged back in."""

    name: str = "usb-test"
    period: float | None = None

    def __init__(self) -> None:
        self.image = load_image(PHOTOS[0])
        self.plugged = True
        self.open_attempts: list[float] = []

    def open(self) -> None:
        self.open_attempts.append(time.monotonic())
        if not self.plugged:
            raise CameraError("usb-test: no such device")

    def grab(self) -> np.ndarray:
        if not self.plugged:
            raise CameraError("usb-test: read returned False")
        time.sleep(0.01)
        return self.image

    def close(self) -> None:
        pass


def test_reopen_backs_off_exponentially_up_to_the_cap(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.capture.camera")
    source = UnpluggableSource()
    with LatestFrameGrabber(source, reopen_max_seconds=0.4) as camera:
        assert camera.read(2.0) is not None
        source.plugged = False
        time.sleep(1.6)
        last = camera.read(0.0)  # at most one frame from before the outage is still unread
        assert camera.read(0.0) is None
        source.plugged = True
        frame = camera.read(2.0)
        assert frame is not None
        assert last is None or frame.index > last.index
        assert camera.stats.reconnects == 1
    gaps = [b - a for a, b in itertools.pairwise(source.open_attempts[1:])]
    assert len(gaps) >= 3
    assert gaps[0] == pytest.approx(0.2, abs=0.08)  # 0.1 before the first attempt, then doubling...
    assert all(gap == pytest.approx(0.4, abs=0.08) for gap in gaps[1:]), gaps  # ...up to the cap
    assert len(outage_logs(caplog, logging.WARNING)) == 1
    assert len(outage_logs(caplog, logging.INFO)) == 1


def test_an_unreachable_stream_is_one_error_line_without_ffmpeg_or_opencv_noise(tmp_path: Path) -> None:
    stream = f"rtsp://127.0.0.1:{free_port()}/door"  # nothing listens there: FFmpeg's connection is refused
    config = write_config(tmp_path / "edgeface.yaml", camera={"source": "opencv", "device": stream})
    done = run_edgeface("--config", str(config), "inspect", "--out", str(tmp_path / "snap.jpg"), timeout=60)
    assert (done.returncode, done.stderr.splitlines()) == (
        1,
        [f"edgeface: error: camera {stream}: cannot open (camera.device)"],
    )
