"""videohook's benchmarks (`make bench`); see docs/performance.md. The shared package lives in the layer
directory, as Lambda ships it: put it on the path, as pytest's `pythonpath` does for the tests."""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parents[1] / "layers" / "common")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
