"""Automatic captions benchmark: the real-time factor of transcribing a lecture on one core,
and the word error rate of the transcript against the script the lecture was spoken from.

    python -m bench.captions [--repeat 1]

The lecture is SCRIPT (about two and a half minutes of English) read by Debian's
``espeak-ng`` at 150 words a minute (``media_pipeline.samples.speech_synthesize``),
``--repeat`` times in a row.
The process is pinned to CPU 0 (as ``taskset -c 0`` would) and the model runs with
``cpu_threads=1`` (WHISPER_CPU_THREADS), as one captions worker process does.

* baseline: FFmpeg decoding the lecture's audio to 16 kHz mono PCM (``speech.audio_extract``'s
  work), measured in the same run;
* transcription: ``speech.words_transcribe`` (faster-whisper, the configured model, Silero VAD,
  word timestamps) on that audio, after one warm-up on a short clip (the model is loaded once
  per worker process, so its load is not a lecture's cost; it is printed apart);
* RTF = transcription seconds / audio seconds; goal RTF_GOAL (0.15: a 60-minute lecture in at
  most 9 minutes on one core). The exit status is 1 when the goal is missed;
* WER (``jiwer``: word-level Levenshtein distance / reference words, after lower-casing and
  removing punctuation) of the words against SCRIPT, printed against WER_TARGET. espeak-ng's
  voice is synthetic, so this measures the pipeline on clean but unnatural speech; it is
  reported, not enforced.

No database is used (the bench database of the other benches is not needed).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RTF_GOAL = 0.15
WER_TARGET = 0.15

SCRIPT = (
    "Good morning and welcome to the third lecture of our course on plant biology. "
    "Today we study photosynthesis, the process that turns light into the chemical energy "
    "that almost every living thing depends on. "
    "Plants, algae and some bacteria capture sunlight with a green pigment called "
    "chlorophyll. Chlorophyll sits inside small structures named chloroplasts, which are "
    "found mostly in the cells of the leaves. "
    "The overall reaction is simple to write down. Six molecules of carbon dioxide and six "
    "molecules of water become one molecule of glucose and six molecules of oxygen. "
    "The details, however, took scientists more than a century to understand. "
    "Photosynthesis happens in two stages. The first stage needs light and takes place in "
    "the thylakoid membranes. There, the energy of light splits water, releases oxygen and "
    "stores energy in two carrier molecules. "
    "The second stage does not need light directly. It is called the Calvin cycle, and it "
    "happens in the fluid around the thylakoids. The cycle uses the stored energy to fix "
    "carbon from the air into sugar. "
    "Why does this matter to us? First, the oxygen we breathe was released by photosynthesis "
    "over billions of years. Second, the food we eat, whether plant or animal, starts with "
    "sugar made in a leaf. Third, fossil fuels are the remains of ancient photosynthesis. "
    "Several conditions limit how fast a plant can work. When light is weak, the first stage "
    "slows down. When carbon dioxide is scarce, the Calvin cycle slows down. When the "
    "temperature is too high or too low, the enzymes lose their efficiency. "
    "Farmers use this knowledge every day. Greenhouses add carbon dioxide to the air, and "
    "growers choose crops that suit the light and the temperature of their region. "
    "Before our next meeting, please read the chapter on the light reactions and answer the "
    "five review questions at the end. "
    "Next week we will measure the rate of photosynthesis in the laboratory, using pond "
    "weed, a lamp and a simple counter of oxygen bubbles. "
    "Thank you for listening, and see you on Thursday."
)


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="times the script is read")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})  # one core, as `taskset -c 0`
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ["WHISPER_CPU_THREADS"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    import jiwer
    from django.conf import settings

    from media_pipeline import speech
    from media_pipeline.probe import ffmpeg_binary
    from media_pipeline.samples import speech_synthesize

    script = " ".join([SCRIPT] * args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-captions-") as folder:
        work = Path(folder)
        wav = speech_synthesize(script, work / "lecture.wav")
        warm = speech_synthesize("Warming up the model.", work / "warm.wav")
        pcm, warm_pcm = work / "lecture.s16", work / "warm.s16"

        def decode(source: Path, out: Path) -> None:
            subprocess.run(
                [
                    ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    "-i", str(source), "-ac", "1", "-ar", str(speech.SAMPLE_RATE),
                    "-f", "s16le", "-acodec", "pcm_s16le", str(out),
                ],
                check=True,
            )  # fmt: skip

        started = time.perf_counter()
        decode(wav, pcm)
        baseline = time.perf_counter() - started
        decode(warm, warm_pcm)
        audio_seconds = pcm.stat().st_size / 2 / speech.SAMPLE_RATE

        started = time.perf_counter()
        model = speech.speech_model()
        load = time.perf_counter() - started
        speech.words_transcribe(warm_pcm, model=model, language="en")

        started = time.perf_counter()
        words = speech.words_transcribe(pcm, model=model, language="en")
        transcription = time.perf_counter() - started
        cues = speech.cues_from_words(words)

    hypothesis = " ".join(word.text.strip() for word in words)
    wer = jiwer.wer(_normalise(script), _normalise(hypothesis))
    rtf = transcription / audio_seconds
    print(
        f"lecture: {audio_seconds:.1f} s of espeak-ng speech ({len(script.split())} words), "
        f"model {model.name} ({settings.WHISPER_CPU_THREADS} thread, CPU 0), "
        f"loaded in {load:.2f} s"
    )
    print(f"baseline (FFmpeg decode to 16 kHz PCM): {baseline:.3f} s")
    print(
        f"transcription: {transcription:.2f} s, {len(words)} words, {len(cues)} cues; "
        f"ratio transcription / baseline: {transcription / baseline:.1f}"
    )
    print(f"RTF: {rtf:.3f} (goal <= {RTF_GOAL}; ratio RTF / goal: {rtf / RTF_GOAL:.2f})")
    print(f"60-minute lecture at this RTF: {60 * rtf:.1f} min (goal <= {60 * RTF_GOAL:.0f} min)")
    print(f"WER: {wer:.3f} (target <= {WER_TARGET}, reported only)")
    ok = rtf <= RTF_GOAL
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
