"""Badge images: uploads checked and stored in the database (every instance can serve them), SVG
sanitised against an allowlist, and a generated default from the badge's name and colour."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from plugin.errors import InvalidInput
from plugin.i18n import gettext as _

MAX_BYTES = 256 * 1024
RASTER = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
SVG_NS = "http://www.w3.org/2000/svg"
XLINK = "{http://www.w3.org/1999/xlink}href"
ALLOWED_TAGS = {"svg", "g", "path", "circle", "ellipse", "rect", "line", "polyline", "polygon", "text", "tspan",
                "title", "desc", "defs", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "use"}
ALLOWED_ATTRS = {"viewBox", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d",
                 "points", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
                 "stroke-linecap", "stroke-linejoin", "opacity", "transform", "id", "offset", "stop-color",
                 "stop-opacity", "gradientUnits", "gradientTransform", "clip-path", "mask", "font-size",
                 "font-family", "font-weight", "text-anchor", "dominant-baseline", "href", XLINK,
                 "preserveAspectRatio", "version", "clipPathUnits"}


def _local(tag: str) -> str:
    return tag.split("}", 1)[1] if tag.startswith("{") else tag


def sanitise_svg(data: bytes) -> bytes:
    text = data.decode("utf-8", errors="strict")
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.I):
        raise InvalidInput(_("SVG images may not declare a DOCTYPE or entities."), errors={"image": [_("Not allowed.")]})
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        raise InvalidInput(_("That SVG file could not be read."), errors={"image": [_("Not a valid SVG.")]}) from None
    if _local(root.tag) != "svg":
        raise InvalidInput(_("That file is not an SVG image."), errors={"image": [_("Not an SVG.")]})
    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) not in ALLOWED_TAGS:
                parent.remove(child)
    for element in root.iter():
        for name in list(element.attrib):
            value = element.attrib[name]
            local = name if name == XLINK else _local(name)
            if local not in ALLOWED_ATTRS and name != XLINK:
                del element.attrib[name]
            elif name in ("href", XLINK) and not value.startswith("#"):
                del element.attrib[name]  # only references inside the image, never outside it
            elif "url(" in value and not re.fullmatch(r"url\(#[\w-]+\)", value.strip()):
                del element.attrib[name]
    ET.register_namespace("", SVG_NS)
    return ET.tostring(root, encoding="utf-8")


def check_upload(data: bytes, filename: str) -> tuple[bytes, str]:
    """(cleaned bytes, content type) of an uploaded badge image, or InvalidInput."""
    if not data:
        raise InvalidInput(_("Choose an image file."), errors={"image": [_("Empty file.")]})
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("Images may be at most %(size)s KB.", size=MAX_BYTES // 1024), errors={"image": [_("Too large.")]})
    for magic, content_type in RASTER.items():
        if data.startswith(magic):
            return data, content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return data, "image/webp"
    if filename.lower().endswith(".svg") or data.lstrip()[:5] in (b"<?xml", b"<svg "):
        return sanitise_svg(data), "image/svg+xml"
    raise InvalidInput(_("Use a PNG, JPEG, WebP or SVG image."), errors={"image": [_("Unsupported type.")]})


# Letters only Turkish (and Azerbaijani) writing has: a name holding one is upper-cased with their dotted and dotless
# i (Python's upper() makes "i" an "I", which in Turkish is the capital of "ı").
_TURKISH_ONLY = frozenset("ğĞşŞıİ")


def initials(name: str) -> str:
    """The first letters of the name's first two words, in capitals ("" for a name without a word)."""
    letters = "".join(word[0] for word in re.findall(r"\w+", name)[:2])
    if _TURKISH_ONLY.intersection(name):
        letters = letters.replace("i", "İ").replace("ı", "I")
    return letters.upper()


def default_svg(name: str, colour: str) -> bytes:
    initials_shown = initials(name) or "★"
    return (f'<svg xmlns="{SVG_NS}" viewBox="0 0 120 120" width="120" height="120" role="img">'
            f"<title>{html.escape(name)}</title>"
            f'<circle cx="60" cy="60" r="56" fill="{html.escape(colour)}"/>'
            f'<circle cx="60" cy="60" r="46" fill="none" stroke="#fff" stroke-width="4" stroke-opacity=".6"/>'
            f'<text x="60" y="62" text-anchor="middle" dominant-baseline="middle" font-family="sans-serif" '
            f'font-size="40" font-weight="700" fill="#fff">{html.escape(initials_shown)}</text></svg>').encode()
