"""Fit the screen cue (edgeface/liveness/screen.py) and print its leave-one-source-out figures.

    .venv/bin/python tools/train_liveness_cue.py --pad ../shared/pad-dev --pad ../shared/pad-webcams \
        --out models/liveness_screen_cue.npz [--cache /tmp/pad-features.npz]

Every photo a set's manifest.csv knows is used: bona fide faces and replays train the cue (prints do not:
they are MiniFASNet's), each (source, class) group weighing the same; each part's inputs, capture kinds,
L2 penalty and offset are in edgeface.bench.screenfit.PARTS. The fit is deterministic (Newton's method from zero), so
there is no seed; the bootstrap intervals printed use edgeface.bench.rates.BOOTSTRAP_SEED. The figures
are those of `edgeface bench liveness --by-source` on the same folders: each source scored by a cue
fitted without it. The weights are fitted on every source; the photos themselves are never shipped.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

from edgeface.bench.bysource import BySourceReport
from edgeface.bench.padset import MANIFEST, Manifest
from edgeface.bench.screenfit import (
    PARTS,
    extract,
    fit_all,
    leave_one_source_out,
    load_extracted,
    pad_photos,
    save_extracted,
    training_rows,
)
from edgeface.config import load_config
from edgeface.liveness.minifasnet import MiniFASNet, model_specs
from edgeface.models.runtime import RuntimeOptions
from edgeface.vision.recognize import open_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pad", type=Path, action="append", required=True, help="a pad-dev style set; repeatable")
    parser.add_argument("--out", type=Path, required=True, help="where to write the cue (.npz)")
    parser.add_argument("--cache", type=Path, default=None, help="features of the photos, reused when present")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.cache is not None and args.cache.exists():
        data = load_extracted(args.cache)
    else:
        cfg = load_config(None)
        photos = [p for pad in args.pad for p in pad_photos([pad], Manifest.read(pad / MANIFEST))]
        detector = open_detector(cfg)
        try:
            with MiniFASNet.open(model_specs(cfg), RuntimeOptions.from_config(cfg.runtime)) as networks:
                data = extract(detector, networks, photos)
        finally:
            detector.close()
        if args.cache is not None:
            save_extracted(data, args.cache)
    print("\n".join(BySourceReport(data, leave_one_source_out(data)).table()))
    cue = fit_all(data)
    cue.save(args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    fitted = ", ".join(f"{spec.name} part on {int(training_rows(data, spec.captures).sum())}" for spec in PARTS)
    print(f"\nfitted the {fitted} photos; wrote {args.out} sha256 {digest} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
