"""HTML rendered to the text a reader sees, with links and the text hidden from the reader.

Spammers pad HTML with invisible ham words (display:none, zero-size or white-on-white fonts)
and show one domain in a link's text while pointing at another. The renderer keeps what is
visible apart from what is hidden, and every link with the text displayed for it, so rules and
models can use both.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCK = {
    "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "title", "td", "th",
}
_SKIP = {"script", "style", "head", "noscript", "template", "svg"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
         "wbr", "param", "track"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0+(?:\.0+)?(?:px|pt|em|%)?\s*(?:;|$)"
    r"|max-height\s*:\s*0|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)",
    re.I,
)
_COLOR = re.compile(r"(?<![-\w])color\s*:\s*([#\w]+)", re.I)
_BGCOLOR = re.compile(r"background(?:-color)?\s*:\s*([#\w]+)", re.I)
_MAX_DEPTH = 256


@dataclass
class Link:
    href: str
    text: str


@dataclass
class RenderedHtml:
    text: str
    hidden_text: str
    links: list[Link] = field(default_factory=list)
    images: int = 0


def _norm_color(value: str) -> str:
    value = value.lower()
    names = {"white": "#ffffff", "black": "#000000", "#fff": "#ffffff", "#000": "#000000"}
    return names.get(value, value)


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.visible: list[str] = []
        self.hidden: list[str] = []
        self.links: list[Link] = []
        self.images = 0
        # Each open element: (tag, hidden, skip, text colour, background colour)
        self.stack: list[tuple[str, bool, bool, str, str]] = []
        self.link_stack: list[tuple[str, list[str]]] = []

    def _state(self) -> tuple[bool, bool, str, str]:
        if self.stack:
            _, hidden, skip, color, bg = self.stack[-1]
            return hidden, skip, color, bg
        return False, False, "", "#ffffff"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k.lower(): (v or "") for k, v in attrs}
        hidden, skip, color, bg = self._state()
        if tag in _BLOCK:
            self.visible.append("\n")
        if tag == "img":
            self.images += 1
            alt = attributes.get("alt", "")
            if alt and not hidden and not skip:
                self.visible.append(f" {alt} ")
        style = attributes.get("style", "")
        if "hidden" in attributes or _HIDDEN_STYLE.search(style):
            hidden = True
        if tag == "font" and attributes.get("size", "").strip() in ("0", "-5", "-4"):
            hidden = True
        found = _COLOR.search(style)
        if found or (tag == "font" and attributes.get("color")):
            color = _norm_color(found.group(1) if found else attributes["color"])
        found_bg = _BGCOLOR.search(style)
        if found_bg or attributes.get("bgcolor"):
            bg = _norm_color(found_bg.group(1) if found_bg else attributes["bgcolor"])
        if color and color == bg:
            hidden = True
        if tag in _SKIP:
            skip = True
        if tag == "a" and attributes.get("href"):
            self.link_stack.append((attributes["href"].strip(), []))
        if tag not in _VOID and len(self.stack) < _MAX_DEPTH:
            self.stack.append((tag, hidden, skip, color, bg))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            self.visible.append("\n")
        if tag == "a" and self.link_stack:
            href, parts = self.link_stack.pop()
            self.links.append(Link(href, " ".join("".join(parts).split())))
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        hidden, skip, _, _ = self._state()
        if skip:
            return
        (self.hidden if hidden else self.visible).append(data)
        if not hidden:
            for _, parts in self.link_stack:
                parts.append(data)


def render_html(markup: str) -> RenderedHtml:
    """Render HTML; never raises (broken markup yields what could be read)."""
    renderer = _Renderer()
    try:
        renderer.feed(markup)
        renderer.close()
    except Exception:
        pass
    for href, parts in renderer.link_stack:  # unclosed <a> at the end of the document
        renderer.links.append(Link(href, " ".join("".join(parts).split())))
    text = html.unescape("".join(renderer.visible))
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    hidden = " ".join(" ".join(renderer.hidden).split())
    return RenderedHtml(text=text, hidden_text=hidden, links=renderer.links, images=renderer.images)
