"""Markdown rendering: what it keeps, and that no XSS payload survives."""

import pytest

from tenants.markdown import markdown_render
from tests.xss import XSS_CORPUS, active_content, assert_inert


@pytest.mark.parametrize("payload", XSS_CORPUS, ids=[f"xss{n}" for n in range(len(XSS_CORPUS))])
def test_no_payload_of_the_corpus_survives(payload):
    assert_inert(str(markdown_render(payload)))
    assert_inert(str(markdown_render(f"Intro\n\n{payload}\n\n*after*")))


def test_the_checker_finds_active_content():
    # The checker itself must catch what the corpus tries, or the test above proves nothing.
    assert active_content('<a href=" javascript:alert(1)">x</a>') == [
        "href=' javascript:alert(1)' on <a>"
    ]
    assert active_content("<img src=x onerror=alert(1)>") == ["onerror attribute on <img>"]
    assert active_content("<script>x</script>") == ["<script> element"]
    assert active_content('<a href="/c/1">x</a><a href="https://a.test/?q=1:2">y</a>') == []


def test_markdown_keeps_what_authors_write():
    html = str(
        markdown_render(
            "# Title\n\nSome **bold**, *em*, ~~gone~~ and `code`.\n\n"
            "- one\n- two\n\n[site](https://example.test/a?b=1)\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n"
        )
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert "<del>gone</del>" in html or "<s>gone</s>" in html
    assert "<code>code</code>" in html
    assert "<li>one</li>" in html
    assert (
        '<a href="https://example.test/a?b=1" rel="noopener noreferrer nofollow">site</a>' in html
    )
    assert "<td>1</td>" in html


def test_raw_html_is_shown_as_text_and_blank_is_empty():
    assert str(markdown_render("<b>hi</b>")) == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"
    assert str(markdown_render("   \n ")) == ""
