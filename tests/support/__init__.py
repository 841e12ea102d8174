"""The one support package of the tests: real parts to test against, and the helpers around them.

- ``data``: paths to the shared photos, clips and models, and the repo's demo.
- ``models``, ``broker``, ``tls``, ``events``: session fixtures (model sessions, mosquitto, a PKI) and
  per-test ones (a private broker, a collector, an outbox), registered in tests/conftest.py.
- ``scenes``: what a folder camera shows (a still person, a street crowd). ``configs``: configs for test doors.
- ``door``: the daemon inside the test process. ``process``: the daemon as a child process.
- ``cli``: the edgeface command. ``disk``: a full or read-only state directory.
- ``timing``: ``wait_until`` and a hand-moved clock. ``liveness``: a synthetic head and a fixed model.
- ``chromium``: headless Chromium over the DevTools protocol (screen sizes, JavaScript, screenshots).
  ``boxes``: the face boxes drawn on a picture, read back out of it.
"""
