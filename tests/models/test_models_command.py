"""``edgeface models``: the catalogue on disk, verification, verified downloads and int8 quantization.

Downloads are tested offline with file:// URLs into ../shared/models; quantization on real photos.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgeface.config import Config, EmbedderConfig
from edgeface.models.catalogue import CATALOGUE
from edgeface.models.checksums import file_sha256
from edgeface.models.files import find
from edgeface.models.profiles import BUILTIN_PROFILES
from edgeface.models.runtime import RuntimeOptions, open_session
from edgeface.vision.align import CropSpec, align
from edgeface.vision.embed import OnnxEmbedder
from edgeface.vision.images import load_image
from edgeface.vision.recognize import Recognizer
from tests.support.cli import edgeface
from tests.support.configs import write_config
from tests.support.data import FACES, SHARED_MODELS
from tests.support.models import REPO_MODELS

YUNET = "face_detection_yunet_2026may.onnx"
MFN = "mobilefacenet_foamliu.onnx"


def config_for(tmp_path: Path, models_dir: Path = REPO_MODELS) -> Path:
    return write_config(tmp_path / "edgeface.yaml", models_dir=str(models_dir))


def run(config: Path, *args: str) -> int:
    """``edgeface --config CONFIG models ARGS...``."""
    return edgeface(config, "models", *args)


def test_the_catalogue_pins_the_files_shipped_in_shared_models() -> None:
    sums = dict(reversed(line.split()) for line in (SHARED_MODELS / "SHA256SUMS").read_text().splitlines())
    for name, entry in CATALOGUE.items():
        assert sums[name] == entry.sha256, name
        assert (SHARED_MODELS / name).stat().st_size == entry.size, name
    assert find("mobilefacenet_int8").name == "mobilefacenet_foamliu_int8.onnx", "a profile name finds its file"
    assert all(p.model in CATALOGUE for p in BUILTIN_PROFILES.values())


def test_list_shows_which_files_are_present_and_verified(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config_for(tmp_path), "list", "--json") == 0
    rows = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert rows[YUNET]["present"] and rows[YUNET]["sha256_ok"] and rows[YUNET]["url"]
    assert rows["mobilefacenet_foamliu_int8.onnx"]["used_by"] == ["mobilefacenet_int8"]
    facenet = rows["facenet_inception_resnet_v1_casia.onnx"]
    assert not facenet["present"] and facenet["url"] is None, "not in the repo's models/, and no public URL"


def test_verify_passes_on_good_files_and_fails_on_a_tampered_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config_for(tmp_path), "verify") == 0
    assert capsys.readouterr().out.count("✓") == 5, "detector, embedder, the liveness pair and its screen cue"

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(REPO_MODELS / "mobilefacenet_foamliu_int8.onnx", models)
    tampered = bytearray((REPO_MODELS / YUNET).read_bytes())
    tampered[1000] ^= 0xFF
    (models / YUNET).write_bytes(bytes(tampered))
    without_liveness = write_config(tmp_path / "edgeface.yaml", models_dir=str(models), liveness={"enabled": False})
    assert run(without_liveness, "verify") == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line[0] for line in lines] == ["✗", "✓"]
    assert YUNET in lines[0] and CATALOGUE[YUNET].sha256 in lines[0]


def test_pull_from_a_file_url_lands_the_verified_file_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    url = (SHARED_MODELS / MFN).as_uri()
    assert run(config_for(tmp_path), "pull", "mobilefacenet", "--url", url, "--dest", str(dest)) == 0
    assert [p.name for p in dest.iterdir()] == [MFN]
    assert file_sha256(dest / MFN) == CATALOGUE[MFN].sha256
    # Already there and verified: kept, nothing is fetched (this URL does not exist).
    assert run(config_for(tmp_path), "pull", MFN, "--url", url + ".gone", "--dest", str(dest)) == 0


@pytest.mark.parametrize("tamper", ["flipped byte", "appended bytes", "truncated"])
def test_pull_refuses_a_tampered_download_and_leaves_nothing_behind(
    tamper: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray((SHARED_MODELS / YUNET).read_bytes())
    if tamper == "flipped byte":
        data[5000] ^= 0x01
    elif tamper == "appended bytes":
        data += b"\0" * 64
    else:
        del data[-100:]
    bad = tmp_path / "mirror" / YUNET
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    assert run(config_for(tmp_path), "pull", YUNET, "--url", bad.as_uri(), "--dest", str(dest)) == 1
    assert "refused" in capsys.readouterr().err
    assert list(dest.iterdir()) == []


def test_pull_of_a_file_without_a_public_url_says_to_copy_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "dest"
    assert run(config_for(tmp_path), "pull", "facenet_casia", "--dest", str(dest)) == 1
    err = capsys.readouterr().err
    assert "no public download" in err and "copy" in err
    assert run(config_for(tmp_path), "pull", "nosuchmodel.onnx") == 1
    assert "not a known model file" in capsys.readouterr().err


@pytest.fixture(scope="module")
def calibration_and_probes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """20 calibration photos (one or two per person) and 12 other photos held out to compare the models on."""
    folder = tmp_path_factory.mktemp("calibration")
    people = sorted(p for p in FACES.iterdir() if p.is_dir() and p.name != "unknown")
    photos = [photo for person in people for photo in sorted(person.glob("*.jpg"))[:2]]
    for i, photo in enumerate(photos[::2][:20]):
        shutil.copy(photo, folder / f"{i:02d}.jpg")
    held_out = [sorted(person.glob("*.jpg"))[-1] for person in people[:12]]
    return folder, held_out


@pytest.mark.slow
def test_static_int8_stays_faithful_to_fp32_on_real_faces(
    tmp_path: Path, calibration_and_probes: tuple[Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    calibration, held_out = calibration_and_probes
    out = tmp_path / "mfn_int8.onnx"
    config = config_for(tmp_path)
    assert run(config, "quantize", str(REPO_MODELS / MFN), str(out), "--calibration", str(calibration)) == 0
    assert "calibrated on 20 faces" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["edgeface.quantized_from"] == CATALOGUE[MFN].sha256
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load(str(out)).graph.node), "a QDQ graph"

    cfg = Config(state_dir=tmp_path, models_dir=REPO_MODELS, embedder=EmbedderConfig(profile="mobilefacenet"))
    with Recognizer.from_config(cfg) as fp32:
        session, sha = open_session(out, None, RuntimeOptions())
        int8 = OnnxEmbedder(session, fp32.embedder.profile, sha)
        cosines = []
        for photo in held_out:
            image = load_image(photo)
            faces = fp32.detect(image)[:1]
            assert faces, photo
            crops = [align(image, faces[0], CropSpec.for_profile(int8.profile))]
            cosines.append(float(np.dot(fp32.embedder.embed(crops)[0], int8.embed(crops)[0])))
    assert min(cosines) >= 0.97, cosines


def test_static_quantization_needs_calibration_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.onnx"
    assert run(config_for(tmp_path), "quantize", str(REPO_MODELS / MFN), str(out)) == 1
    assert "--calibration" in capsys.readouterr().err
    assert not out.exists()


def test_dynamic_quantization_needs_no_photos(tmp_path: Path) -> None:
    out = tmp_path / "dyn.onnx"
    assert run(config_for(tmp_path), "quantize", str(REPO_MODELS / MFN), str(out), "--dynamic") == 0
    session, _ = open_session(out, None, RuntimeOptions())
    assert session.run(None, {"input": np.zeros((1, 3, 112, 112), np.float32)})[0].shape == (1, 128)


def test_the_edgeface_weights_ship_in_the_repository_with_their_notice_and_code_licence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config_for(tmp_path), "list", "--json") == 0
    rows = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    edgeface = {name: row for name, row in rows.items() if name.startswith("edgeface_")}
    assert len(edgeface) == 5  # XS and XXS in int8 and fp32, XS-γ in fp32
    for name, row in edgeface.items():
        assert (row["present"], row["sha256_ok"], row["licence_present"]) == (True, True, True), name
    assert (REPO_MODELS / "LICENSE-EdgeFace-code-BSD-3-Clause.txt").is_file()
    assert run(config_for(tmp_path), "verify") == 0, "the default embedder is still MobileFaceNet"
    assert "mobilefacenet_int8" in capsys.readouterr().out


def test_list_names_every_licence_and_flags_non_commercial_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config_for(tmp_path), "list", "--json") == 0
    rows = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert all(row["licence"] and row["licence_present"] for row in rows.values() if row["present"])
    noncommercial = sorted(name for name, row in rows.items() if row["noncommercial"])
    assert noncommercial == sorted(name for name in rows if name.startswith("edgeface_"))
    assert run(config_for(tmp_path), "list") == 0
    listing = capsys.readouterr().out
    assert listing.count("NON-COMMERCIAL") == len(noncommercial)
    assert BUILTIN_PROFILES[Config().embedder.profile].model not in noncommercial, "never the default"


def test_loading_non_commercial_weights_says_so_every_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config(models_dir=REPO_MODELS, state_dir=tmp_path, embedder=EmbedderConfig(profile="edgeface_xxs_int8"))
    with caplog.at_level(logging.WARNING, logger="edgeface.vision.recognize"), Recognizer.from_config(cfg):
        pass
    (line,) = [r.getMessage() for r in caplog.records if r.name == "edgeface.vision.recognize"]
    assert "NON-COMMERCIAL" in line and "NOTICE-EdgeFace-weights-CC-BY-NC-SA-4.0.txt" in line


@pytest.mark.slow
def test_dynamic_int8_of_edgeface_reproduces_the_shipped_copy_on_real_faces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "xxs_int8.onnx"
    source, shipped = SHARED_MODELS / "edgeface_xxs_q_fp32.onnx", SHARED_MODELS / "edgeface_xxs_q_int8dyn.onnx"
    calibration = tmp_path / "faces"
    for person in ("barack_obama", "nicole_kidman", "joe_biden"):
        shutil.copytree(FACES / person, calibration / person)
    args = (
        "quantize",
        str(source),
        str(out),
        "--dynamic",
        "--calibration",
        str(calibration),
        "--compare",
        str(shipped),
    )
    assert run(config_for(tmp_path, SHARED_MODELS), *args) == 0
    printed = capsys.readouterr().out
    assert "profile edgeface_xxs" in printed and "MatMul" in printed
    to_fp32 = float(printed.split("cosine to the original on those faces: mean ")[1].split(",")[0])
    to_shipped = float(printed.split(f"cosine to {shipped.name} on those faces: mean ")[1].split(",")[0])
    assert to_fp32 > 0.98 and to_shipped > 0.999
