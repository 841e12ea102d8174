"""The picamera2 source against picamera2's real API, and what a machine lacks for it.

picamera2 cannot be imported off a Raspberry Pi (it needs the OS's libcamera bindings), so its released
wheel is read instead: deploy/test-tools.sh downloads it (pinned) into .tools/picamera2/, and the source
is parsed with ast. The source under test then drives a stand-in whose methods are exactly the ones
``Picamera2`` defines, each accepting only the arguments the real signature accepts. What libcamera
does with them (the camera itself) is checked only on a Pi.
"""

from __future__ import annotations

import ast
import inspect
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from edgeface.capture.camera import open_camera
from edgeface.capture.picamera import CAPTURE_TIMEOUT_SECONDS, Picamera2Source, picamera2_missing
from edgeface.config import CameraConfig
from edgeface.errors import CameraError
from edgeface.vision.images import load_image
from tests.support.data import FACES, ROOT

WHEELS = ROOT / ".tools" / "picamera2"


@pytest.fixture(scope="module")
def wheel() -> zipfile.ZipFile:
    found = sorted(WHEELS.glob("picamera2-*-py3-none-any.whl"))
    if not found:
        pytest.fail(f"no picamera2 wheel in {WHEELS}: run deploy/test-tools.sh (make test does)")
    with zipfile.ZipFile(found[-1]) as archive:
        yield archive


def module_of(wheel: zipfile.ZipFile, name: str) -> ast.Module:
    return ast.parse(wheel.read(f"picamera2/{name}.py").decode())


def assigned(module: ast.Module | ast.ClassDef, name: str) -> Any:
    """The literal value a module or class assigns to ``name``."""
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"picamera2 no longer assigns {name}")


def signature_of(function: ast.FunctionDef) -> inspect.Signature:
    """The signature a def declares (defaults stand in as their source text: only their presence matters)."""
    args = function.args
    kind = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = [
        kind(a.arg, kind.POSITIONAL_ONLY if a in args.posonlyargs else kind.POSITIONAL_OR_KEYWORD, default=default)
        for a, d in zip(positional, defaults, strict=True)
        for default in [kind.empty if d is None else ast.unparse(d)]
    ]
    if args.vararg:
        params.append(kind(args.vararg.arg, kind.VAR_POSITIONAL))
    params += [
        kind(a.arg, kind.KEYWORD_ONLY, default=kind.empty if d is None else ast.unparse(d))
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg:
        params.append(kind(args.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(params)


def real_methods(wheel: zipfile.ZipFile) -> dict[str, inspect.Signature]:
    """Every method of ``picamera2.Picamera2``; of @overload stubs, the implementation (the last def)."""
    module = module_of(wheel, "picamera2")
    (cls,) = [n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "Picamera2"]
    return {f.name: signature_of(f) for f in cls.body if isinstance(f, ast.FunctionDef)}


class StandIn:
    """A Picamera2 that has exactly the real one's methods, binds every call to the real signature and
    records it; ``answers`` gives what a method returns."""

    def __init__(self, methods: dict[str, inspect.Signature], answers: dict[str, Any], *args: Any) -> None:
        self._methods, self._answers = methods, answers
        self.calls: list[tuple[str, inspect.BoundArguments]] = []
        self._call("__init__", *args)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        bound = self._methods[name].bind(self, *args, **kwargs)  # TypeError if the real one would refuse it
        self.calls.append((name, bound))
        return self._answers.get(name)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self._methods:
            raise AttributeError(f"picamera2.Picamera2 has no method {name}")
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)


def test_the_source_uses_picamera2_as_its_release_defines_it(
    wheel: zipfile.ZipFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    methods = real_methods(wheel)
    photo = load_image(FACES / "barack_obama" / "1.jpg")
    height, width = photo.shape[:2]
    # RGB888 arrays are B, G, R in memory (OpenCV's order); a fourth padding byte per pixel is dropped.
    frame = np.dstack([photo, np.full((height, width), 255, np.uint8)])
    job = object()
    answers = {"create_video_configuration": {"configured": True}, "capture_array": job, "wait": frame}
    cameras: list[StandIn] = []

    def picamera2(*args: Any) -> StandIn:
        cameras.append(StandIn(methods, answers, *args))
        return cameras[-1]

    module = ModuleType("picamera2")
    module.Picamera2 = picamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)

    source = Picamera2Source(width=width, height=height, fps=10, camera_num=1)
    source.open()
    image = source.grab()
    source.close()

    assert np.array_equal(image, photo) and image.flags.c_contiguous
    (camera,) = cameras
    calls = [(name, bound.arguments) for name, bound in camera.calls]
    assert [name for name, _ in calls] == [
        "__init__",
        "create_video_configuration",
        "configure",
        "start",
        "capture_array",
        "wait",
        "close",
    ]
    args = dict(calls)
    assert args["__init__"]["camera_num"] == 1
    main = args["create_video_configuration"]["main"]
    assert set(main) <= set(assigned(stream_configuration(wheel), "_ALLOWED_FIELDS"))
    assert main == {"size": (width, height), "format": "RGB888"}
    assert main["format"] in assigned(module_of(wheel, "formats"), "RGB_FORMATS")
    assert args["create_video_configuration"]["controls"] == {"FrameDurationLimits": (100_000, 100_000)}
    assert '"FrameDurationLimits"' in wheel.read("picamera2/picamera2.py").decode(), "a control picamera2 knows"
    assert args["configure"]["camera_config"] == {"configured": True}
    assert args["capture_array"]["name"] == "main" and args["capture_array"]["wait"] is False
    assert args["wait"]["job"] is job and args["wait"]["timeout"] == CAPTURE_TIMEOUT_SECONDS


def stream_configuration(wheel: zipfile.ZipFile) -> ast.ClassDef:
    module = module_of(wheel, "configuration")
    (cls,) = [n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "StreamConfiguration"]
    return cls


def test_the_stand_in_refuses_what_picamera2_refuses(wheel: zipfile.ZipFile) -> None:
    """The check above could not fail if the stand-in took anything: it takes only the real signatures."""
    camera = StandIn(real_methods(wheel), {})
    with pytest.raises(TypeError):
        camera.capture_array("main", blocking=False)
    with pytest.raises(AttributeError, match="no method grab"):
        camera.grab()


def fake_root(tmp_path: Path, *, rpi: bool, package: str | None) -> Path:
    """A file tree laid out like / on Raspberry Pi OS or stock Debian, with ``package`` installed."""
    (tmp_path / "etc").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    if rpi:
        (tmp_path / "etc/rpi-issue").write_text("Raspberry Pi reference 2024-11-19\n")
    stanzas = ["Package: python3-numpy\nStatus: install ok installed\nVersion: 1:1.24.2-1"]
    if package:
        stanzas.append(f"Package: {package}\nStatus: install ok installed\nDescription: x\n continued line: y")
    stanzas.append("Package: python3-picamera2-doc\nStatus: deinstall ok config-files")
    (tmp_path / "var/lib/dpkg/status").write_text("\n\n".join(stanzas) + "\n")
    return tmp_path


def venv(tmp_path: Path, system_site_packages: bool) -> Path:
    prefix = tmp_path / "venv"
    prefix.mkdir()
    flag = "true" if system_site_packages else "false"
    (prefix / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = {flag}\nversion = 3.11.2\n")
    return prefix


def test_a_raspberry_pi_os_install_lacks_nothing(tmp_path: Path) -> None:
    root = fake_root(tmp_path / "root", rpi=True, package="python3-picamera2")
    assert picamera2_missing(root, venv(tmp_path, True), Path("/usr")) == []
    assert picamera2_missing(root, Path("/usr"), Path("/usr")) == [], "the OS's own python3 sees its packages"


def test_each_missing_piece_is_named(tmp_path: Path) -> None:
    root = fake_root(tmp_path / "root", rpi=False, package=None)
    missing = picamera2_missing(root, venv(tmp_path, False), Path("/usr"))
    assert len(missing) == 3
    assert "not Raspberry Pi OS" in missing[0]
    assert "python3-picamera2 is not installed" in missing[1]
    assert "without --system-site-packages" in missing[2]
    raspbian = fake_root(tmp_path / "raspbian", rpi=False, package="python3-picamera2")
    (raspbian / "etc/os-release").write_text("ID=raspbian\nVERSION_CODENAME=bookworm\n")
    assert picamera2_missing(raspbian, Path("/usr"), Path("/usr")) == []


def test_missing_picamera2_names_what_works(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # as on a machine without it, even if installed here
    with pytest.raises(CameraError) as caught:
        open_camera(CameraConfig(source="picamera2"), tmp_path)
    message = str(caught.value)
    assert "sudo deploy/install.sh" in message and "apt install python3-picamera2" in message
    assert "--system-site-packages" in message and "pip alone cannot" in message
    assert "camera.source: opencv" in message
    assert all(lack in message for lack in picamera2_missing()), "this machine's own gaps are named"
