"""Markdown from admins, rendered then sanitised: only a small set of tags, links to http(s) and mail."""
from __future__ import annotations

import markdown
import nh3
from markupsafe import Markup

TAGS = {"p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
        "h2", "h3", "h4", "a", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}}


def render_markdown(text: str) -> Markup:
    # Headings start at level 2: the page owns its h1.
    html = markdown.markdown(text or "", extensions=["tables", "sane_lists"], output_format="html")
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return Markup(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                            link_rel="noopener noreferrer nofollow"))
