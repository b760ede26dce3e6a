"""The chunk plan and the FFmpeg commands of chunked transcodes (``media_pipeline.chunking``);
their output is checked end to end in ``test_chunks.py``."""

from fractions import Fraction

import pytest

from media_pipeline.chunking import (
    Chunk,
    build_audio_command,
    build_chunk_command,
    build_join_command,
    chunk_plan,
    concat_list,
    exact_frame_rate,
)
from media_pipeline.ladder import ladder_for


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (30000 / 1001, Fraction(30000, 1001)),
        (24000 / 1001, Fraction(24000, 1001)),
        (59.94005994005994, Fraction(60000, 1001)),
        (25.0, Fraction(25)),
        (0.0, Fraction(25)),
    ],
)
def test_exact_frame_rate(rate, expected):
    assert exact_frame_rate(rate) == expected


@pytest.mark.parametrize("rate", [-1.0, float("nan"), float("inf")])
def test_exact_frame_rate_refuses_nonsense(rate):
    with pytest.raises(ValueError, match="not a positive number"):
        exact_frame_rate(rate)


def test_plan_at_ntsc_rate_holds_every_frame_once():
    plan = chunk_plan(duration=200.0, frame_rate=30000 / 1001, chunk_seconds=60)
    assert plan == [
        Chunk(0, 0.0, 60.0, 1799),  # frames 0..1798 (frame 1798 at 59.993 s)
        Chunk(1, 60.0, 60.0, 1798),
        Chunk(2, 120.0, 60.0, 1798),
        Chunk(3, 180.0, 20.0, None),
    ]
    # ceil(180 x 30000/1001) = 5395 frames before the last chunk, as one encode would count.
    assert sum(c.frames for c in plan[:-1]) == 5395


def test_a_remainder_shorter_than_a_segment_joins_the_chunk_before():
    assert chunk_plan(duration=125.9, frame_rate=25, chunk_seconds=60) == [
        Chunk(0, 0.0, 60.0, 1500),
        Chunk(1, 60.0, pytest.approx(65.9), None),
    ]
    assert [c.start for c in chunk_plan(duration=126.0, frame_rate=25, chunk_seconds=60)] == [
        0.0, 60.0, 120.0,
    ]  # fmt: skip


def test_a_source_shorter_than_one_chunk_is_one_chunk():
    assert chunk_plan(duration=40.0, frame_rate=25, chunk_seconds=60) == [Chunk(0, 0.0, 40.0, None)]


@pytest.mark.parametrize("seconds", [0, -6, 10, 61])
def test_chunks_must_be_whole_segments(seconds):
    with pytest.raises(ValueError, match="multiple of 6"):
        chunk_plan(duration=100.0, frame_rate=25, chunk_seconds=seconds)


def test_chunk_command_seeks_and_counts_frames_per_rung(tmp_path):
    rungs = ladder_for(1280, 720)
    command = build_chunk_command(
        ffmpeg="ffmpeg", source="/media/in.mp4", demuxer="mov", rungs=rungs, out_dir=tmp_path,
        chunk=Chunk(2, 120.0, 60.0, 1798), frame_rate=30000 / 1001,
    )  # fmt: skip
    assert command[command.index("-ss") + 1] == "120.000000"
    assert command.index("-ss") < command.index("-i")
    assert command[command.index("-i") + 1] == "file:/media/in.mp4"
    assert command[command.index("-protocol_whitelist") + 1] == "file,pipe"
    graph = command[command.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]fps=30000/1001,split=3[s0][s1][s2];")
    assert command.count("-frames:v") == 3
    assert {command[i + 1] for i, a in enumerate(command) if a == "-frames:v"} == {"1798"}
    outputs = [a for a in command if a.endswith(".ts")]
    assert outputs == [str(tmp_path / f"{r.name}.ts") for r in rungs]
    assert command.count("-an") == 3 and "-c:a" not in command
    assert command.count("expr:gte(t,n_forced*2)") == 3
    assert [command[i + 1] for i, a in enumerate(command) if a == "-crf"] == ["23", "23", "22"]


def test_the_last_chunk_runs_to_the_end_and_a_url_source_may_use_the_network(tmp_path):
    command = build_chunk_command(
        ffmpeg="ffmpeg", source="https://s3.example/b/k?X-Amz-Signature=1", demuxer="mov",
        rungs=ladder_for(640, 360), out_dir=tmp_path, chunk=Chunk(0, 0.0, 40.0, None),
        frame_rate=25,
    )  # fmt: skip
    assert "-frames:v" not in command and "-ss" not in command
    assert command[command.index("-protocol_whitelist") + 1] == "file,pipe,http,https,tcp,tls"
    assert command[command.index("-i") + 1] == "https://s3.example/b/k?X-Amz-Signature=1"
    assert command[command.index("-reconnect") + 1] == "1"


def test_nvenc_chunks_force_idr_frames_and_keep_the_vbv_caps(tmp_path):
    [rung] = ladder_for(640, 360)
    command = build_chunk_command(
        ffmpeg="ffmpeg", source="/in.mp4", demuxer="mov", rungs=[rung], out_dir=tmp_path,
        chunk=Chunk(0, 0.0, 60.0, 1500), frame_rate=25, encoder="h264_nvenc",
    )  # fmt: skip
    assert command[command.index("-c:v") + 1] == "h264_nvenc"
    for option, value in (("-cq", "23"), ("-maxrate", "800000"), ("-bufsize", "1600000"),
                          ("-forced-idr", "1"), ("-no-scenecut", "1")):  # fmt: skip
        assert command[command.index(option) + 1] == value
    assert "libx264" not in command and "-x264-params:v" not in command


def test_chunk_command_refuses_bad_arguments(tmp_path):
    args = {"ffmpeg": "ffmpeg", "source": "/in.mp4", "demuxer": "mov", "out_dir": tmp_path,
            "chunk": Chunk(0, 0.0, 6.0, 150), "frame_rate": 25}  # fmt: skip
    with pytest.raises(ValueError, match="at least one rung"):
        build_chunk_command(rungs=[], **args)
    with pytest.raises(ValueError, match="unknown encoder"):
        build_chunk_command(rungs=ladder_for(640, 360), encoder="libx265", **args)
    with pytest.raises(ValueError, match="must not contain"):
        build_chunk_command(rungs=ladder_for(640, 360), **{**args, "out_dir": "/tmp/a%d"})


def test_audio_is_encoded_once_to_mp4_with_the_ladder_settings(tmp_path):
    command = build_audio_command(
        ffmpeg="ffmpeg", source="/in.mkv", demuxer="matroska", out_dir=tmp_path
    )
    tail = command[command.index("-map") :]
    assert tail == [
        "-map", "0:a:0", "-vn", "-map_metadata", "-1", "-map_chapters", "-1",
        "-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k",
        "-f", "mp4", str(tmp_path / "audio.m4a"),
    ]  # fmt: skip


def test_concat_list_names_each_chunk_in_order():
    assert concat_list(["c00000", "c00001"], "720p") == (
        "ffconcat version 1.0\nfile 'c00000/720p.ts'\nfile 'c00001/720p.ts'\n"
    )
    for bad in ("/abs", "../up", "it's"):
        with pytest.raises(ValueError, match="unsafe chunk folder"):
            concat_list([bad], "720p")


def test_join_copies_every_stream_into_the_ladder_layout(tmp_path):
    rungs = ladder_for(854, 480)
    command = build_join_command(
        ffmpeg="ffmpeg", lists=["/w/360p.ffconcat", "/w/480p.ffconcat"], audio="/w/audio.m4a",
        rungs=rungs, out_dir=tmp_path,
    )  # fmt: skip
    inputs = [command[i + 1] for i, a in enumerate(command) if a == "-i"]
    assert inputs == ["file:/w/360p.ffconcat", "file:/w/480p.ffconcat", "file:/w/audio.m4a"]
    maps = [command[i + 1] for i, a in enumerate(command) if a == "-map"]
    assert maps == ["0:v:0", "2:a:0", "1:v:0", "2:a:0"]
    assert command[command.index("-c") + 1] == "copy"
    assert command[command.index("-var_stream_map") + 1] == ("v:0,a:0,name:360p v:1,a:1,name:480p")
    with pytest.raises(ValueError, match="one concat list per rung"):
        build_join_command(ffmpeg="ffmpeg", lists=["/w/a"], audio=None, rungs=rungs,
                           out_dir=tmp_path)  # fmt: skip
