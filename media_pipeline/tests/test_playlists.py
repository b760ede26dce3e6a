"""Tests for media_pipeline.playlists: URI rewriting and the media path whitelist."""

from __future__ import annotations

import pytest

from media_pipeline.playlists import (
    SAFE_FILENAME,
    SAFE_NAME,
    rewrite_playlist,
    rewrite_storyboard,
    validate_media_path,
)


def add_token(uri: str) -> str:
    return f"{uri}{'&' if '?' in uri else '?'}token=abc.def"


def test_rewrite_media_playlist():
    text = (
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:6\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:6.000000,\n"
        "seg_00000.ts\n"
        "#EXTINF:2.000000,\n"
        "seg_00001.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    assert rewrite_playlist(text, add_token) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:6\n"
        "#EXT-X-TARGETDURATION:6\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXTINF:6.000000,\n"
        "seg_00000.ts?token=abc.def\n"
        "#EXTINF:2.000000,\n"
        "seg_00001.ts?token=abc.def\n"
        "#EXT-X-ENDLIST\n"
    )


def test_rewrite_master_playlist_keeps_attributes():
    text = (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\n'
        "360p/index.m3u8\n"
    )
    assert rewrite_playlist(text, add_token) == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"\n'
        "360p/index.m3u8?token=abc.def\n"
    )


def test_rewrite_uri_attributes_and_preserves_crlf_whitespace_and_blank_lines():
    text = (
        "#EXTM3U\r\n"
        '#EXT-X-MAP:URI="init.mp4",BYTERANGE="720@0"\r\n'
        '#EXT-X-KEY:METHOD=AES-128,URI="key?id=7",IV=0x1\r\n'
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"\r\n'
        '#EXT-X-SESSION-DATA:DATA-ID="com.example",X-URI="not-a-uri"\r\n'
        '# a comment mentioning URI="x" stays\r\n'
        "\r\n"
        "#EXTINF:6,\r\n"
        "  seg_00000.ts  \r\n"
        "#EXTINF:6,\n"
        "seg_00001.ts"
    )
    assert rewrite_playlist(text, add_token) == (
        "#EXTM3U\r\n"
        '#EXT-X-MAP:URI="init.mp4?token=abc.def",BYTERANGE="720@0"\r\n'
        '#EXT-X-KEY:METHOD=AES-128,URI="key?id=7&token=abc.def",IV=0x1\r\n'
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8?token=abc.def"\r\n'
        '#EXT-X-SESSION-DATA:DATA-ID="com.example",X-URI="not-a-uri"\r\n'
        '# a comment mentioning URI="x" stays\r\n'
        "\r\n"
        "#EXTINF:6,\r\n"
        "  seg_00000.ts?token=abc.def  \r\n"
        "#EXTINF:6,\n"
        "seg_00001.ts?token=abc.def"
    )


def test_rewrite_with_identity_is_byte_for_byte():
    text = "#EXTM3U\r\n\f\n#EXTINF:6,\u2028\nseg_00000.ts\n\n"
    assert rewrite_playlist(text, lambda uri: uri) == text


def test_rewrite_calls_add_query_once_per_uri():
    seen = []

    def record(uri: str) -> str:
        seen.append(uri)
        return uri

    rewrite_playlist('#EXTM3U\n#EXT-X-MAP:URI="a.mp4"\nb.ts\n#EXTINF:1,\nc.ts\n', record)
    assert seen == ["a.mp4", "b.ts", "c.ts"]


def test_rewrite_storyboard_adds_the_query_before_the_fragment():
    text = (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg#xywh=0,0,160,90\n\n"
        "00:00:02.000 --> 00:00:03.500\nstoryboard.jpg#xywh=160,0,160,90\n"
    )

    assert rewrite_storyboard(text, add_token) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nstoryboard.jpg?token=abc.def#xywh=0,0,160,90\n\n"
        "00:00:02.000 --> 00:00:03.500\nstoryboard.jpg?token=abc.def#xywh=160,0,160,90\n"
    )


@pytest.mark.parametrize(
    ("rendition", "filename"),
    [
        ("", "master.m3u8"),
        (None, "master.m3u8"),
        ("", "poster.jpg"),
        ("", "poster.webp"),
        ("", "storyboard.jpg"),
        ("", "storyboard.vtt"),
        (None, "preview.mp4"),
        ("360p", "index.m3u8"),
        ("1080p", "seg_00000.ts"),
        ("272p", "seg_00017.ts"),
        ("718p", "seg_123456.ts"),
    ],
)
def test_validate_media_path_accepts_layout(rendition, filename):
    assert validate_media_path(rendition, filename) is True


@pytest.mark.parametrize(
    ("rendition", "filename"),
    [
        ("", "index.m3u8"),
        ("", "seg_00000.ts"),
        ("", "../master.m3u8"),
        ("", "poster.png"),
        ("", "POSTER.JPG"),
        ("", "storyboard.vtt/"),
        ("", "preview.mp4\n"),
        ("360p", "poster.jpg"),
        ("360p", "master.m3u8"),
        ("..", "index.m3u8"),
        ("360p/..", "index.m3u8"),
        ("360p/../../other", "index.m3u8"),
        ("/etc", "passwd"),
        ("360p", "../index.m3u8"),
        ("360p", "seg_.ts"),
        ("360p", "seg_-1.ts"),
        ("360p", "seg_00000.ts/"),
        ("360p", "seg_00000.ts\n"),
        ("360p", "seg_00000.ts\x00.m3u8"),
        ("360p", "SEG_00000.TS"),
        ("360p", "seg_00000.mp4"),
        ("360p", "seg_%2e%2e.ts"),
        ("360p", "index.m3u8 "),
        ("360p\n", "index.m3u8"),
        ("0360p", "index.m3u8"),
        ("p", "index.m3u8"),
        ("360", "index.m3u8"),
        ("12345p", "index.m3u8"),
        ("\u0663\u0666\u0660p", "index.m3u8"),
        ("360p", "seg_\u0661.ts"),
        ("360p", ""),
        ("", ""),
    ],
)
def test_validate_media_path_rejects_everything_else(rendition, filename):
    assert validate_media_path(rendition, filename) is False


def test_validate_media_path_rejects_non_strings():
    assert validate_media_path("360p", None) is False
    assert validate_media_path(360, "index.m3u8") is False


def test_safe_patterns():
    assert SAFE_NAME.fullmatch("480p")
    assert not SAFE_NAME.fullmatch("480P")
    assert SAFE_FILENAME.fullmatch("index.m3u8")
    assert SAFE_FILENAME.fullmatch("seg_00001.ts")
    assert not SAFE_FILENAME.fullmatch("indexXm3u8")
