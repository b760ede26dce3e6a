"""Tests for media_pipeline.ladder: rung selection, the ffmpeg command, progress parsing,
the master playlist, and one real encode of generated clips."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import av
import pytest

from media_pipeline import ladder
from media_pipeline.conformance import PEAK_TOLERANCE, Rendition, hls_check, hls_read
from media_pipeline.ladder import (
    AUDIO_BITRATE,
    AUDIO_SAMPLE_RATE,
    KEYFRAME_SECONDS,
    SEGMENT_SECONDS,
    Rung,
    build_transcode_command,
    ladder_for,
    parse_progress,
    write_master_playlist,
)
from media_pipeline.playlists import validate_media_path
from tests.plugins.media import run_ffmpeg

from .conftest import transcode


def sizes(rungs: list[Rung]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rungs]


# ----------------------------------------------------------------------------- ladder_for


def test_constants():
    assert (SEGMENT_SECONDS, KEYFRAME_SECONDS) == (6, 2)
    assert (AUDIO_BITRATE, AUDIO_SAMPLE_RATE) == (128_000, 48_000)


def test_ladder_720p():
    assert ladder_for(1280, 720) == [
        Rung("360p", 640, 360, crf=23, maxrate=800_000, bufsize=1_600_000),
        Rung("480p", 854, 480, crf=23, maxrate=1_400_000, bufsize=2_800_000),
        Rung("720p", 1280, 720, crf=22, maxrate=2_800_000, bufsize=5_600_000),
    ]


def test_ladder_4k_is_capped_at_1080p():
    assert ladder_for(3840, 2160) == [
        Rung("360p", 640, 360, crf=23, maxrate=800_000, bufsize=1_600_000),
        Rung("480p", 854, 480, crf=23, maxrate=1_400_000, bufsize=2_800_000),
        Rung("720p", 1280, 720, crf=22, maxrate=2_800_000, bufsize=5_600_000),
        Rung("1080p", 1920, 1080, crf=22, maxrate=5_000_000, bufsize=10_000_000),
    ]


def test_ladder_portrait_uses_width_as_short_side():
    assert sizes(ladder_for(1080, 1920)) == [
        ("360p", 360, 640),
        ("480p", 480, 854),
        ("720p", 720, 1280),
        ("1080p", 1080, 1920),
    ]


def test_ladder_non_standard_single_rung_below_360():
    # 640 * 272 px scaled from 360p's 800 kbit/s at 640 * 360 px: 604,444 -> 604,000.
    assert ladder_for(640, 272) == [
        Rung("272p", 640, 272, crf=23, maxrate=604_000, bufsize=1_208_000)
    ]
    assert ladder_for(320, 240) == [
        Rung("240p", 320, 240, crf=23, maxrate=267_000, bufsize=534_000)
    ]


def test_ladder_odd_source_rounds_down_to_even_and_interpolates():
    # 1278 * 718 = 917,604 px lies 99.2 % of the way from 480p's 409,920 px to 720p's
    # 921,600 px: 1.4 Mbit/s + 0.99219 * 1.4 Mbit/s = 2,789,067 -> 2,789,000.
    assert ladder_for(1279, 719) == [
        Rung("360p", 640, 360, crf=23, maxrate=800_000, bufsize=1_600_000),
        Rung("480p", 854, 480, crf=23, maxrate=1_400_000, bufsize=2_800_000),
        Rung("718p", 1278, 718, crf=22, maxrate=2_789_000, bufsize=5_578_000),
    ]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((640, 480), [("360p", 480, 360), ("480p", 640, 480)]),
        ((1440, 1080), [("360p", 480, 360), ("480p", 640, 480), ("720p", 960, 720),
                        ("1080p", 1440, 1080)]),
        ((1920, 800), [("360p", 864, 360), ("480p", 1152, 480), ("720p", 1728, 720),
                       ("800p", 1920, 800)]),
        ((2560, 1080), [("360p", 854, 360), ("480p", 1138, 480), ("720p", 1706, 720),
                        ("1080p", 2560, 1080)]),
        ((360, 640), [("360p", 360, 640)]),
        ((361, 641), [("360p", 360, 640)]),
        ((3, 2), [("2p", 2, 2)]),
    ],
)  # fmt: skip
def test_ladder_shapes(size, expected):
    assert sizes(ladder_for(*size)) == expected


def test_ladder_rates_for_non_standard_rungs():
    rung = ladder_for(1920, 800)[-1]
    # 1,536,000 px between 720p (921,600) and 1080p (2,073,600): 53.3 % of 2.2 Mbit/s.
    assert (rung.crf, rung.maxrate, rung.bufsize) == (22, 3_973_000, 7_946_000)
    # 600 is as far from 480 as from 720: the tie takes the larger rung's CRF.
    assert ladder_for(1000, 600)[-1].crf == 22
    assert ladder_for(2, 2)[0].maxrate == 64_000


def test_ladder_never_upscales_and_has_no_duplicates():
    for width, height in [(640, 360), (854, 480), (1920, 1080), (1000, 1000), (7680, 4320)]:
        rungs = ladder_for(width, height)
        names = [r.name for r in rungs]
        assert len(names) == len(set(names))
        assert all(r.width <= width and r.height <= height for r in rungs)
        assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in rungs)
        assert [r.height for r in rungs] == sorted(r.height for r in rungs)


@pytest.mark.parametrize("size", [(1, 720), (1280, 1), (0, 0)])
def test_ladder_rejects_degenerate_sizes(size):
    with pytest.raises(ValueError):
        ladder_for(*size)


# ----------------------------------------------------------------------------- command


def test_build_transcode_command_with_audio():
    rungs = ladder_for(1280, 720)
    command = build_transcode_command(
        ffmpeg="/usr/bin/ffmpeg",
        source="/data/in put.mp4",
        demuxer="mov",
        rungs=rungs,
        out_dir="/work/hls",
        has_audio=True,
    )
    assert command == [
        "/usr/bin/ffmpeg",
        "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-progress", "pipe:1", "-nostats",
        "-protocol_whitelist", "file,pipe",
        "-f", "mov", "-i", "file:/data/in put.mp4",
        "-filter_complex",
        "[0:v:0]split=3[s0][s1][s2];"
        "[s0]scale=640:360,setsar=1,format=yuv420p[v0];"
        "[s1]scale=854:480,setsar=1,format=yuv420p[v1];"
        "[s2]scale=1280:720,setsar=1,format=yuv420p[v2]",
        "-map", "[v0]", "-map", "0:a:0",
        "-map", "[v1]", "-map", "0:a:0",
        "-map", "[v2]", "-map", "0:a:0",
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-threads", "0",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
        "-crf:v:0", "23", "-maxrate:v:0", "800000", "-bufsize:v:0", "1600000",
        "-crf:v:1", "23", "-maxrate:v:1", "1400000", "-bufsize:v:1", "2800000",
        "-crf:v:2", "22", "-maxrate:v:2", "2800000", "-bufsize:v:2", "5600000",
        "-force_key_frames:v", "expr:gte(t,n_forced*2)",
        "-sc_threshold:v", "0",
        "-x264-params:v", "open-gop=0",
        "-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", "128k",
        "-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_list_size", "0",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-hls_segment_filename", "/work/hls/%v/seg_%05d.ts",
        "-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:480p v:2,a:2,name:720p",
        "/work/hls/%v/index.m3u8",
    ]  # fmt: skip
    assert "-master_pl_name" not in command


def test_build_transcode_command_without_audio():
    command = build_transcode_command(
        ffmpeg="ffmpeg",
        source=Path("clip.webm"),
        demuxer="matroska",
        rungs=ladder_for(640, 272),
        out_dir=Path("out"),
        has_audio=False,
        preset="medium",
        threads=2,
    )
    assert command[command.index("-i") + 1] == "file:clip.webm"
    assert command[command.index("-f") + 1] == "matroska"
    assert command[command.index("-filter_complex") + 1] == (
        "[0:v:0]split=1[s0];[s0]scale=640:272,setsar=1,format=yuv420p[v0]"
    )
    assert "0:a:0" not in command
    assert "-c:a" not in command
    assert command[command.index("-var_stream_map") + 1] == "v:0,name:272p"
    assert command[command.index("-preset") + 1] == "medium"
    assert command[command.index("-threads") + 1] == "2"
    assert all(isinstance(arg, str) for arg in command)


@pytest.mark.parametrize(
    ("rungs", "out_dir"),
    [
        ([], "/work/hls"),
        ([Rung("720p; rm", 1280, 720, 22, 1, 2)], "/work/hls"),
        ([Rung("high", 1280, 720, 22, 1, 2)], "/work/hls"),
        (ladder_for(640, 360), "/work/100%/hls"),
    ],
)
def test_build_transcode_command_rejects_unsafe_input(rungs, out_dir):
    with pytest.raises(ValueError):
        build_transcode_command(
            ffmpeg="ffmpeg",
            source="in.mp4",
            demuxer="mov",
            rungs=rungs,
            out_dir=out_dir,
            has_audio=True,
        )


# ----------------------------------------------------------------------------- progress

PROGRESS_SAMPLE = """\
frame=0
out_time_us=N/A
out_time_ms=N/A
out_time=N/A
progress=continue
frame=34
fps=33.94
out_time_us=2517333
out_time_ms=2517333
out_time=00:00:02.517333
speed=2.51x
progress=continue
frame=20
out_time_us=2000000
progress=continue
frame=200
out_time_us=10000000
progress=continue
frame=200
out_time_us=8000000
progress=end
"""


def test_parse_progress_blocks():
    percents = list(parse_progress(PROGRESS_SAMPLE.splitlines(keepends=True), 8.0))
    # N/A -> 0; 2.517333 s of 8 s; a step back is held; past the end is clamped; end.
    assert percents == [0.0, pytest.approx(31.4666625), pytest.approx(31.4666625), 100.0, 100.0]


def test_parse_progress_uses_out_time_ms_only_as_fallback():
    lines = ["out_time_ms=4000000", "progress=continue", "progress=end"]
    assert list(parse_progress(lines, 8.0)) == [50.0, 100.0]


def test_parse_progress_unknown_duration_and_garbage():
    lines = ["garbage", "", "out_time_us=abc", "out_time_us=1000000", "progress=continue"]
    assert list(parse_progress(lines, 0.0)) == [0.0]
    assert list(parse_progress(iter(["progress=end", "progress=continue"]), 5.0)) == [100.0]


# ----------------------------------------------------------------------------- master


def _fake_variant(base: Path, name: str, segments: list[tuple[float, int]], target: int) -> None:
    directory = base / name
    directory.mkdir(parents=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{target}"]
    for index, (duration, size) in enumerate(segments):
        segment = directory / f"seg_{index:05d}.ts"
        with segment.open("wb") as handle:
            handle.truncate(size)
        lines += [f"#EXTINF:{duration:.6f},", segment.name]
    lines.append("#EXT-X-ENDLIST")
    (directory / "index.m3u8").write_text("\n".join(lines) + "\n")


def test_write_master_playlist_measures_segments(tmp_path):
    rungs = [
        Rung("480p", 854, 480, 23, 1_400_000, 2_800_000),
        Rung("360p", 640, 360, 23, 800_000, 1_600_000),
    ]
    # 360p: 6 s at 1 Mbit/s, 6 s at 2 Mbit/s, 6 s at 1 Mbit/s, 2 s at 4 Mbit/s.
    # Runs lasting 3..9 s: the single 6 s segments and the last two (8 s, 1.75 Mbit/s);
    # the 2 s segment alone is too short to count. Peak 2 Mbit/s, average 32/20 Mbit/s.
    _fake_variant(tmp_path, "360p", [(6, 750_000), (6, 1_500_000), (6, 750_000), (2, 1_000_000)], 6)
    # 480p: a clip shorter than half a target duration: the whole-clip rate is used.
    _fake_variant(tmp_path, "480p", [(2.5, 1_000_000)], 6)

    renditions = write_master_playlist(tmp_path, rungs, has_audio=True, frame_rate=29.97)

    assert renditions == [
        {
            "name": "360p",
            "width": 640,
            "height": 360,
            "bandwidth": 2_000_000,
            "average_bandwidth": 1_600_000,
            "playlist": "360p/index.m3u8",
        },
        {
            "name": "480p",
            "width": 854,
            "height": 480,
            "bandwidth": 3_200_000,
            "average_bandwidth": 3_200_000,
            "playlist": "480p/index.m3u8",
        },
    ]
    # The fake segments are not MPEG-TS, so CODECS falls back to High@4.0.
    assert (tmp_path / "master.m3u8").read_text() == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2000000,AVERAGE-BANDWIDTH=1600000,RESOLUTION=640x360,"
        'FRAME-RATE=29.970,CODECS="avc1.640028,mp4a.40.2"\n'
        "360p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3200000,RESOLUTION=854x480,"
        'FRAME-RATE=29.970,CODECS="avc1.640028,mp4a.40.2"\n'
        "480p/index.m3u8\n"
    )
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_master_playlist_errors(tmp_path):
    rung = Rung("360p", 640, 360, 23, 800_000, 1_600_000)
    with pytest.raises(FileNotFoundError):
        write_master_playlist(tmp_path, [rung], has_audio=False, frame_rate=25.0)
    (tmp_path / "360p").mkdir()
    (tmp_path / "360p" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
    with pytest.raises(ValueError):
        write_master_playlist(tmp_path, [rung], has_audio=False, frame_rate=25.0)


def test_find_sps_reads_profile_constraints_level():
    data = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x67\x64\x00\x1f\xac\xd9"
    assert ladder._find_sps(data) == (0x64, 0x00, 0x1F)
    assert ladder._find_sps(b"\x00\x00\x01\x65\x88\x84\x00\x00") is None


# ----------------------------------------------------------------------------- real encode


def _playlist_segments(path: Path) -> tuple[str, list[float], list[str]]:
    text = path.read_text()
    durations = [float(d) for d in re.findall(r"^#EXTINF:([0-9.]+),", text, re.MULTILINE)]
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    return text, durations, uris


def _nal_types(data: bytes) -> set[int]:
    return {data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data) if m.end() < len(data)}


def test_real_ladder_renditions_and_master(hls_720p):
    out = hls_720p["out"]
    assert [r.name for r in hls_720p["rungs"]] == ["360p", "480p", "720p"]
    assert hls_720p["master_written_by_ffmpeg"] is False
    for name in ("360p", "480p", "720p"):
        assert (out / name / "index.m3u8").is_file()

    master = (out / "master.m3u8").read_text()
    entries = re.findall(r"^#EXT-X-STREAM-INF:(.*)\n(.*)$", master, re.MULTILINE)
    assert master.startswith("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
    assert [uri for _, uri in entries] == ["360p/index.m3u8", "480p/index.m3u8", "720p/index.m3u8"]
    resolutions = [re.search(r"RESOLUTION=(\d+x\d+)", attrs).group(1) for attrs, _ in entries]
    assert resolutions == ["640x360", "854x480", "1280x720"]
    for (attrs, uri), rendition in zip(entries, hls_720p["renditions"], strict=True):
        assert f"BANDWIDTH={rendition['bandwidth']}," in attrs
        assert f"AVERAGE-BANDWIDTH={rendition['average_bandwidth']}," in attrs
        assert "FRAME-RATE=25.000" in attrs
        assert rendition["playlist"] == uri
        assert rendition["bandwidth"] >= rendition["average_bandwidth"] > 0
        # Derived from the encoded stream: High profile and the level x264 chose.
        with av.open(str(out / rendition["name"] / "seg_00000.ts")) as segment:
            level = segment.streams.video[0].codec_context.level
        assert re.search(r'CODECS="(.*)"', attrs).group(1) == f"avc1.6400{level:02x},mp4a.40.2"
    # 360p/480p fit level 3.0, 720p needs 3.1 (ITU-T H.264 Table A-1).
    assert re.findall(r"avc1\.(\w+)", master) == ["64001e", "64001e", "64001f"]


def test_real_ladder_variant_playlists(hls_720p):
    out = hls_720p["out"]
    segment_lists = []
    for name in ("360p", "480p", "720p"):
        text, durations, uris = _playlist_segments(out / name / "index.m3u8")
        # RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer must be <= the
        # target duration; ffmpeg writes exactly round(max EXTINF).
        assert "#EXT-X-TARGETDURATION:6\n" in text
        assert round(max(durations)) == 6
        assert durations == [pytest.approx(6.0, abs=0.01), pytest.approx(2.0, abs=0.01)]
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
        assert "#EXT-X-INDEPENDENT-SEGMENTS" in text
        assert text.rstrip().endswith("#EXT-X-ENDLIST")
        segment_lists.append(uris)
    # Same segment names (and so the same boundaries) in every rung.
    assert segment_lists == [["seg_00000.ts", "seg_00001.ts"]] * 3


def test_real_ladder_segments_start_with_idr_and_carry_stereo_aac(hls_720p):
    out = hls_720p["out"]
    for rung in hls_720p["rungs"]:
        for segment in sorted((out / rung.name).glob("seg_*.ts")):
            with av.open(str(segment), format="mpegts") as media:
                video = media.streams.video[0]
                audio = media.streams.audio[0]
                assert (video.codec_context.name, video.codec_context.profile) == ("h264", "High")
                assert (audio.codec_context.name, audio.codec_context.profile) == ("aac", "LC")
                assert audio.codec_context.sample_rate == 48_000
                assert audio.codec_context.layout.nb_channels == 2
                packet = next(p for p in media.demux(video) if p.size)
                assert packet.is_keyframe, segment
                assert 5 in _nal_types(bytes(packet)), f"{segment} does not start with an IDR"
            # Decoded afresh: the decoder holds back the first frame for a few packets.
            with av.open(str(segment), format="mpegts") as media:
                frame = next(media.decode(video=0))
            assert frame.key_frame
            assert frame.pict_type == av.video.frame.PictureType.I
            assert (frame.width, frame.height) == (rung.width, rung.height)


def test_real_ladder_progress_and_paths(hls_720p):
    progress = hls_720p["progress"]
    assert progress[-1] == 100.0
    assert progress == sorted(progress)
    assert all(0.0 <= p <= 100.0 for p in progress)
    out = hls_720p["out"]
    for path in out.rglob("*"):
        if path.is_file():
            relative = path.relative_to(out)
            rendition = relative.parent.as_posix() if len(relative.parts) > 1 else ""
            assert validate_media_path(rendition, relative.name), relative


def test_real_ladder_without_audio(hls_no_audio):
    out = hls_no_audio["out"]
    assert [r["name"] for r in hls_no_audio["renditions"]] == ["272p"]
    master = (out / "master.m3u8").read_text()
    assert 'CODECS="avc1.64' in master
    assert "mp4a" not in master
    assert "RESOLUTION=640x272" in master
    with av.open(str(out / "272p" / "seg_00000.ts"), format="mpegts") as media:
        assert len(media.streams.audio) == 0
        assert media.streams.video[0].codec_context.width == 640
    text, durations, _ = _playlist_segments(out / "272p" / "index.m3u8")
    assert durations == [pytest.approx(2.0, abs=0.01)]
    assert "#EXT-X-TARGETDURATION:2\n" in text


def test_real_ladder_of_rotated_source_is_upright(hls_rotated):
    out = hls_rotated["out"]
    assert hls_rotated["renditions"][0]["name"] == "360p"
    assert "RESOLUTION=360x640" in (out / "master.m3u8").read_text()
    with av.open(str(out / "360p" / "seg_00000.ts"), format="mpegts") as media:
        frame = next(media.decode(video=0))
    assert (frame.width, frame.height, frame.rotation) == (360, 640, 0)
    # testsrc2's top-right corner is cyan; turned a quarter counter-clockwise it is now
    # the top-left corner.
    red, green, blue = frame.to_ndarray(format="rgb24")[8, 8]
    assert red < 60 and green > 200 and blue > 200


# ----------------------------------------------------------------------------- conformance


def _copy_ladder(hls_720p, tmp_path) -> Path:
    out = tmp_path / "hls"
    shutil.copytree(hls_720p["out"], out)
    return out


def test_conformance_of_the_real_ladder(hls_720p):
    renditions = hls_read(hls_720p["out"])

    assert hls_check(hls_720p["out"]) == []
    assert [r.name for r in renditions] == ["360p", "480p", "720p"]
    assert [len(r.keyframes) for r in renditions] == [4, 4, 4]
    assert all(r.starts_with_idr == [True, True] for r in renditions)


def test_conformance_reports_each_broken_promise(hls_720p, tmp_path):
    out = _copy_ladder(hls_720p, tmp_path)
    master = out / "master.m3u8"
    declared = hls_720p["renditions"][0]["bandwidth"]
    text = master.read_text().replace(f"BANDWIDTH={declared},", f"BANDWIDTH={declared // 2},", 1)
    master.write_text(text.replace("RESOLUTION=854x480", "RESOLUTION=852x480"))
    variant = out / "480p" / "index.m3u8"
    variant.write_text(
        variant.read_text()
        .replace("#EXT-X-TARGETDURATION:6", "#EXT-X-TARGETDURATION:10")
        .replace("#EXT-X-ENDLIST", "")
    )
    # The 720p rung re-encoded with x264's own GOP: keyframes no longer line up.
    first = out / "720p" / "seg_00000.ts"
    run_ffmpeg(
        "-i", first, "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
        "-c:a", "copy", "-f", "mpegts", out / "720p" / "regop.ts",
    )  # fmt: skip
    os.replace(out / "720p" / "regop.ts", first)

    problems = hls_check(out)

    peak = hls_read(hls_720p["out"])[0].peak_segment_bitrate
    assert problems[:4] == [
        f"360p: peak segment bit rate {peak:.0f} b/s exceeds 1.1 x BANDWIDTH {declared // 2}",
        "480p: the variant playlist is not a complete VOD playlist",
        "480p: #EXT-X-TARGETDURATION is 10, expected 6",
        "480p: pictures are 854x480, RESOLUTION says 852x480",
    ]
    # ultrafast at x264's default CRF also blows the 720p segment past its declared peak.
    assert len(problems) == 6
    assert problems[4].startswith("720p: peak segment bit rate ")
    assert problems[5].startswith("720p: keyframes at [1.440, 2.640, 3.840, 5.040, 6.240, ")
    assert problems[5].endswith("do not match 360p's [1.480, 3.480, 5.480, 7.480] s")


def _rendition(target: int, *segments: tuple[float, int]) -> Rendition:
    return Rendition(
        name="360p",
        bandwidth=1,
        resolution=(640, 360),
        target_duration=target,
        segments=[(f"seg_{i:05d}.ts", secs, size) for i, (secs, size) in enumerate(segments)],
    )


def test_the_peak_segment_bit_rate_is_rfc_8216s():
    # Runs of 3 to 9 s: [a] 1,000,000 b/s, [b] 800,000, [b, c] 4,960,000 / 6.04 s; [a, b] is
    # 12 s and [c] 0.04 s, so neither counts.
    long_then_short = _rendition(6, (6.0, 750_000), (6.0, 600_000), (0.04, 20_000))
    assert long_then_short.peak_segment_bitrate == 1_000_000
    # The same with a heavy middle segment: the run [b, c] carries the peak.
    heavy_middle = _rendition(6, (6.0, 600_000), (6.0, 900_000), (0.04, 20_000))
    assert heavy_middle.peak_segment_bitrate == (7_200_000 + 160_000) / 6.04
    # A clip shorter than half the target: no run qualifies, the whole rendition counts.
    assert _rendition(6, (2.0, 100_000)).peak_segment_bitrate == 400_000
    # Runs of 1 to 3 s: [a] 400,000 b/s and [a, b] 1,200,000 / 2.5 s; [b] alone (800,000 b/s
    # over 0.5 s) does not count.
    assert _rendition(2, (2.0, 100_000), (0.5, 50_000)).peak_segment_bitrate == 480_000
    assert _rendition(6).peak_segment_bitrate == 0.0


def test_a_lecture_ending_one_frame_after_a_segment_boundary_conforms(tmp_path):
    """6 s plus one 25 fps frame: the last segment holds one IDR picture over 0.04 s, whose
    own bit rate is far above the rendition's; RFC 8216 counts it with the segment before."""
    source = tmp_path / "one-frame-over.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=6.04",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6.04",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", source,
    )  # fmt: skip
    out = tmp_path / "hls"

    result = transcode(source, out)

    _, durations, _ = _playlist_segments(out / "180p" / "index.m3u8")
    assert durations == [6.0, 0.04]
    (rendition,) = hls_read(out)
    own_rates = [size * 8 / secs for _, secs, size in rendition.segments]
    assert own_rates[1] > PEAK_TOLERANCE * result["renditions"][0]["bandwidth"]
    assert rendition.peak_segment_bitrate <= result["renditions"][0]["bandwidth"]
    assert hls_check(out) == []
