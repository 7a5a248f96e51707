"""Baking: the assertion carried inside the badge image (Open Badges 2.0 "Baking Specification").

PNG: an iTXt chunk with keyword "openbadges" (uncompressed) right after IHDR, replacing any earlier one.
SVG: an <openbadges:assertion verify="URL"> element, first child of the root, holding the JSON as CDATA.
"""
from __future__ import annotations

import io
import re
import struct
import unicodedata
import zlib

from plugin.badges.images import SVG_NS, default_svg, initials

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OB_NS = "http://openbadges.org"


def _chunks(data: bytes):
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG image")
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        yield kind, body, data[pos:pos + 12 + length]
        pos += 12 + length
        if kind == b"IEND":
            return


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bake_png(image: bytes, assertion: str) -> bytes:
    # keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL, text
    itxt = _chunk(b"iTXt", b"openbadges\x00\x00\x00\x00\x00" + assertion.encode("utf-8"))
    out = [PNG_SIGNATURE]
    for kind, body, raw in _chunks(image):
        if kind in (b"iTXt", b"tEXt") and body.startswith(b"openbadges\x00"):
            continue
        out.append(raw)
        if kind == b"IHDR":
            out.append(itxt)
    return b"".join(out)


def unbake_png(image: bytes) -> str | None:
    for kind, body, _raw in _chunks(image):
        if kind == b"iTXt" and body.startswith(b"openbadges\x00"):
            keyword, rest = body.split(b"\x00", 1)
            flag, _method, rest = rest[0], rest[1], rest[2:]
            _lang, _translated, text = rest.split(b"\x00", 2)
            return (zlib.decompress(text) if flag else text).decode("utf-8")
    return None


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def bake_svg(svg: bytes, assertion_url: str, assertion_json: str) -> bytes:
    text = svg.decode("utf-8")
    text = re.sub(r"<openbadges:assertion\b.*?</openbadges:assertion>", "", text, flags=re.S)
    root = re.search(r"<svg\b[^>]*>", text)
    if root is None:
        raise ValueError("not an SVG image")
    open_tag = root.group(0)
    if "xmlns:openbadges" not in open_tag:
        open_tag = open_tag[:-1].rstrip("/") + f' xmlns:openbadges="{OB_NS}">'
    if f'xmlns="{SVG_NS}"' not in open_tag:
        open_tag = open_tag[:-1] + f' xmlns="{SVG_NS}">'
    url = assertion_url.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    element = f'<openbadges:assertion verify="{url}">{_cdata(assertion_json)}</openbadges:assertion>'
    return (text[:root.start()] + open_tag + element + text[root.end():]).encode("utf-8")


# A font with the letters of the languages Tinker speaks (Debian's fonts-dejavu-core, docs/deploy.md step 1).
# Pillow's own font has ASCII only: without this one, "Ş" or "İ" came out as an empty box.
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _lettering(name: str, size: int):
    """The font and the initials a generated badge shows: the name's own letters in FONT, or, where it is not
    installed, the same letters without their accents in Pillow's font ("Ş" as "S"; one it cannot show left out)."""
    from PIL import ImageFont

    letters = initials(name)
    try:
        return ImageFont.truetype(FONT, size), letters or "*"
    except OSError:
        folded = "".join(c for c in unicodedata.normalize("NFKD", letters) if c.isascii() and c.isalnum())
        return ImageFont.load_default(size=size), folded or "*"


def generated_png(name: str, colour: str, size: int = 256) -> bytes:
    """A round badge in the colour with the name's initials, for when no raster image was uploaded."""
    from PIL import Image, ImageDraw

    font, text = _lettering(name, size // 3)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    pad = size // 30
    draw.ellipse((pad, pad, size - pad, size - pad), fill=colour)
    ring = size // 12
    draw.ellipse((ring, ring, size - ring, size - ring), outline=(255, 255, 255, 160), width=max(2, size // 40))
    draw.text((size / 2, size / 2), text, fill="white", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_source(image: bytes | None, image_type: str | None, name: str, colour: str) -> bytes:
    """The PNG to bake: the uploaded PNG, an uploaded JPEG/WebP converted, else generated."""
    if image and image_type == "image/png":
        return image
    if image and image_type in ("image/jpeg", "image/webp"):
        from PIL import Image

        out = io.BytesIO()
        Image.open(io.BytesIO(image)).convert("RGBA").save(out, format="PNG")
        return out.getvalue()
    return generated_png(name, colour)


def svg_source(image: bytes | None, image_type: str | None, name: str, colour: str) -> bytes:
    if image and image_type == "image/svg+xml":
        return image
    return default_svg(name, colour)
