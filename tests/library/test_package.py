"""What ``import edgeface`` gives: the library API by name, loaded only when first used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import edgeface
import edgeface.library


def test_the_public_names_are_the_librarys_classes() -> None:
    assert set(edgeface.__all__) == {"FaceNet", "Recognition", "Recognizer", "__version__"}
    assert edgeface.FaceNet is edgeface.library.FaceNet
    assert edgeface.Recognizer is edgeface.library.Recognizer
    assert edgeface.Recognition is edgeface.library.Recognition
    assert set(edgeface.__all__) <= set(dir(edgeface))


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'edgeface' has no attribute 'FaceNett'"):
        _ = edgeface.FaceNett


def test_importing_the_package_loads_no_vision_stack_until_the_api_is_used() -> None:
    # Every command imports the package first, `relay lock` (run by systemd after every stop) included.
    probe = (
        "import sys, edgeface\n"
        "heavy = lambda: sorted(m for m in ('numpy', 'cv2', 'onnxruntime') if m in sys.modules)\n"
        "print(heavy())\n"
        "edgeface.FaceNet\n"
        "print(heavy())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "['cv2', 'numpy', 'onnxruntime']"]
