"""Baking, pure: the PNG stays a valid PNG with one openbadges iTXt chunk; the SVG stays well-formed XML."""
from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
import zlib

import pytest
from PIL import Image

from plugin.badges.baking import bake_png, bake_svg, generated_png, png_source, unbake_png
from plugin.badges.images import default_svg


def _chunk_types(data: bytes) -> list[bytes]:
    pos, kinds = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        pos += 12 + length
    return kinds


def test_generated_png_is_a_real_image_in_the_badge_colour():
    image = Image.open(io.BytesIO(generated_png("Prompt Pioneer", "#2b8a3e")))
    assert image.format == "PNG" and image.size == (256, 256)
    assert image.convert("RGB").getpixel((20, 128)) == (0x2B, 0x8A, 0x3E)


def test_png_baking_roundtrips_and_rebaking_replaces_the_chunk():
    png = generated_png("AI Champion", "#3b5bdb")
    once = bake_png(png, '{"id": "https://tool.example/ob/v2/assertions/abc", "note": "ünïcode"}')
    twice = bake_png(once, "https://tool.example/ob/v2/assertions/def")
    assert unbake_png(once).endswith('"ünïcode"}')
    assert unbake_png(twice) == "https://tool.example/ob/v2/assertions/def"
    kinds = _chunk_types(twice)
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and kinds.count(b"iTXt") == 1
    Image.open(io.BytesIO(twice)).load()  # still decodes


def test_uploaded_jpeg_is_converted_for_baking():
    out = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(out, format="JPEG")
    assert png_source(out.getvalue(), "image/jpeg", "x", "#000000").startswith(b"\x89PNG")


def test_svg_baking_keeps_xml_well_formed_even_with_cdata_terminators():
    baked = bake_svg(default_svg("A & B", "#123456"), "https://t.example/a?x=1&y=2", '{"n": "]]>"}')
    root = ET.fromstring(baked)
    element = root[0]
    assert element.tag == "{http://openbadges.org}assertion"
    assert element.get("verify") == "https://t.example/a?x=1&y=2"
    assert element.text == '{"n": "]]>"}'
    rebaked = bake_svg(baked, "https://t.example/b", "{}")
    assert rebaked.count(b"openbadges:assertion verify") == 1


@pytest.mark.parametrize("colour", ["#123456\n", "123456", "#12345g", "#1234567", "red"])
def test_a_badge_colour_is_six_hex_digits_and_nothing_after_them(appctx, colour):
    """"#123456\\n" passed a "$"-anchored check, then overflowed the 7-character column on PostgreSQL (a 500)."""
    from plugin.badges.service import save_badge
    from plugin.core.actor import Role
    from plugin.errors import InvalidInput
    from tests.services.factories import NOW, make_actor, make_platform

    admin = make_actor(make_platform(), "root", role=Role.ADMIN)
    with pytest.raises(InvalidInput) as refused:
        save_badge(admin, None, name="Pioneer", description="", criteria="", colour=colour, manual=True, active=True,
                   now=NOW)
    assert "colour" in refused.value.errors
    assert save_badge(admin, None, name="Pioneer", description="", criteria="", colour="#2B8A3E", manual=True,
                      active=True, now=NOW).colour == "#2B8A3E"
