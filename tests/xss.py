"""An XSS corpus for every text a user writes, and a checker of the HTML it ends up in.

``XSS_CORPUS`` holds classic payloads (script tags, event handlers, ``javascript:`` and
``data:`` URLs with encodings and whitespace tricks, SVG, style, frames, Markdown link and image
forms, attribute break-outs). ``assert_inert(html)`` parses HTML with the standard library's
parser and fails when it holds any active content: a script, style, frame, object, embed, base,
form, meta or link element, an SVG or MathML element, an ``on*`` attribute, a ``style``
attribute, or a URL attribute whose scheme (after entity decoding and stripping control
characters and spaces, as browsers do) is not http, https, mailto or relative.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

XSS_CORPUS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.test/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    "<a href=javascript:alert(1)>x</a>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<form action=javascript:alert(1)><input type=submit>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=javascript:alert(1)//>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    '[x](https://ok.test "title" onmouseover=alert(1))',
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<a href='#' onclick='alert(1)'>x</a>",
    "{{ 7*7 }} {% debug %} ${alert(1)}",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>alert(1)//<</script>",
    "`<script>alert(1)</script>`",
    "```html\n<script>alert(1)</script>\n```",
)

_ACTIVE_ELEMENTS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "base",
    "form", "meta", "link", "svg", "math", "template", "noscript",
}  # fmt: skip
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "xlink:href", "srcset"}
_SAFE_SCHEME = re.compile(r"^(https?:|mailto:|[^:]*$|[^:]*[/?#])", re.IGNORECASE)


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _ACTIVE_ELEMENTS:
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            elif name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            elif name in _URL_ATTRIBUTES and value is not None:
                url = re.sub(r"[\x00-\x20]", "", value)
                if not _SAFE_SCHEME.match(url):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


def active_content(html: str) -> list[str]:
    """What in ``html`` could run or load script (empty list: nothing)."""
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker.problems


def assert_inert(html: str) -> None:
    """Fail (AssertionError naming each problem) when ``html`` holds active content."""
    problems = active_content(html)
    assert not problems, f"active content in HTML: {problems}"
