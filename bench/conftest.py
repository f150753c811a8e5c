import gc
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _collect_earlier_garbage() -> None:
    """Collect what earlier benchmarks left (a 1M-connection world is a big cyclic graph), so
    its collection is not charged to whichever benchmark happens to trigger it."""
    gc.collect()
