"""Real model sessions, built once per test session: the recognizers, their detector and MiniFASNet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeface.config import Config, EmbedderConfig
from edgeface.liveness.minifasnet import MiniFASNet, model_specs
from edgeface.models.runtime import RuntimeOptions
from edgeface.vision.detect import Detector
from edgeface.vision.recognize import Recognizer
from tests.support.data import ROOT, SHARED_MODELS

REPO_MODELS = ROOT / "models"


def make_config(state_dir: Path, **sections: object) -> Config:
    """The embedded defaults with a private state dir and any sections replaced."""
    return Config(state_dir=state_dir, models_dir=REPO_MODELS, **sections)


@pytest.fixture(scope="session")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recognizer]:
    """The default pipeline: YuNet + MobileFaceNet int8 from the repo's models/."""
    with Recognizer.from_config(make_config(tmp_path_factory.mktemp("state"))) as rec:
        yield rec


@pytest.fixture(scope="session")
def facenet_recognizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recognizer]:
    """The seed's FaceNet (CASIA, int8) from ../shared/models."""
    cfg = Config(
        state_dir=tmp_path_factory.mktemp("state"),
        models_dir=SHARED_MODELS,
        embedder=EmbedderConfig(profile="facenet_casia_int8"),
    )
    with Recognizer.from_config(cfg) as rec:
        yield rec


@pytest.fixture(scope="session")
def detector(recognizer: Recognizer) -> Detector:
    """The default pipeline's YuNet."""
    return recognizer.detector


@pytest.fixture(scope="session")
def minifasnet() -> Iterator[MiniFASNet]:
    """The liveness models the config pins, from the repo's models/."""
    with MiniFASNet.open(model_specs(Config(models_dir=REPO_MODELS)), RuntimeOptions()) as model:
        yield model
