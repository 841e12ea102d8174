"""The bundled demo (``make run``): its people, and a real door whose store holds only them.

The demo enrols public figures from ``config/demo/faces`` into a state directory of its own
(``config/demo/edgeface.yaml``). A store that holds nobody but them at a door watching a real camera
was filled by the demo or by hand from its photos: the door would let those strangers in, so the
daemon says so when it starts.
"""

from __future__ import annotations

from collections.abc import Iterable

from edgeface.config import Config, edgeface_home
from edgeface.ops.enroll import scan_faces

DEMO_DIR = edgeface_home() / "config" / "demo"
"""The demo's config, clip and photos, bundled with edgeface."""


def demo_people() -> set[str]:
    """The names the demo enrols (none when edgeface was installed without its demo)."""
    faces = DEMO_DIR / "faces"
    return {name for name, _ in scan_faces(faces).photos} if faces.is_dir() else set()


def watches_the_demo(cfg: Config) -> bool:
    """Whether the camera is one of the demo's clips rather than a real camera."""
    return cfg.camera.source == "file" and cfg.camera_path.resolve().parent == DEMO_DIR.resolve()


def demo_store_warning(cfg: Config, enrolled: Iterable[str]) -> str | None:
    """What to say at start when a door with a real camera would recognise nobody but the demo's people."""
    names = set(enrolled)
    if not names or watches_the_demo(cfg) or not names <= demo_people():
        return None
    return (
        f"people store {cfg.store_path} holds only the demo's people ({', '.join(sorted(names))}), "
        "whom this door would let in: enrol your own (edgeface enroll) and remove them (edgeface people remove NAME)"
    )
