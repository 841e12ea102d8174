"""The library API: recognise faces from Python with the door's own pipeline (see docs/api.md).

- :class:`FaceNet`: the founding document's class. Anchors (a folder of photos or a dict of embeddings),
  then ``fn(frame)`` draws names on a frame, ``fn.recognise(frame)`` says who is where, and
  ``fn.encode(image)`` gives embeddings.
- :class:`Recognizer`: the whole pipeline of a door, from its config and its people store, for an
  application that runs edgeface inside itself.

Both go through :class:`edgeface.vision.pipeline.FramePipeline`, the one path every face takes at the
door, in ``identify`` and in the benchmarks: the same gates, the same threshold, the same matching.
"""

from edgeface.library.facenet import FaceNet
from edgeface.library.recognizer import Recognizer
from edgeface.library.results import Recognition

__all__ = ["FaceNet", "Recognition", "Recognizer"]
