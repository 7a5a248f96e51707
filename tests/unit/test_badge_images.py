"""Uploaded badge images are checked; SVG keeps its drawing and loses anything that could run or call out."""
import os

import pytest

from plugin.badges import baking
from plugin.badges.images import MAX_BYTES, check_upload, default_svg, initials, sanitise_svg
from plugin.errors import InvalidInput

EVIL = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"
  onload="alert(1)"><script>alert(2)</script><circle cx="5" cy="5" r="4" fill="red" onclick="x()"/>
  <foreignObject><iframe src="https://evil.example"/></foreignObject>
  <image href="https://evil.example/track.png"/><use xlink:href="https://evil.example/x.svg#a"/>
  <rect width="1" height="1" fill="url(https://evil.example/p)"/><use href="#local"/></svg>"""


def test_svg_keeps_shapes_and_drops_scripts_handlers_and_outside_references():
    clean = sanitise_svg(EVIL).decode()
    assert "<circle" in clean and 'fill="red"' in clean
    for bad in ("script", "onload", "onclick", "foreignObject", "iframe", "evil.example", "<image"):
        assert bad not in clean
    assert 'href="#local"' in clean


def test_svg_with_doctype_or_entities_is_refused():
    with pytest.raises(InvalidInput):
        sanitise_svg(b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>')


def test_raster_types_are_recognised_by_content_not_name():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
    assert check_upload(png, "badge.svg") == (png, "image/png")
    assert check_upload(b"\xff\xd8\xff" + b"\0" * 20, "x.png")[1] == "image/jpeg"
    assert check_upload(b"RIFF\0\0\0\0WEBPVP8 ", "x")[1] == "image/webp"


@pytest.mark.parametrize("data, name", [(b"", "x.png"), (b"GIF89a....", "x.gif"), (b"%PDF-1.7", "x.pdf"),
                                        (b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_BYTES, "big.png")])
def test_empty_unsupported_or_too_large_uploads_are_refused(data, name):
    with pytest.raises(InvalidInput):
        check_upload(data, name)


def test_generated_default_shows_initials_and_escapes_the_name():
    svg = default_svg('Fail <Forward> & "More"', "#c92a2a").decode()
    assert ">FF<" in svg and "&lt;Forward&gt;" in svg and 'fill="#c92a2a"' in svg


@pytest.mark.parametrize(("name", "shown"), [
    ("ilk şampiyon", "İŞ"),  # a Turkish name: the capital of "i" is "İ"
    ("ışık ödülü", "IÖ"),  # and of "ı" is "I"
    ("insight award", "IA"),  # other languages as before
    ("İlk adım", "İA"),
    ("  --  ", ""),
])
def test_initials_are_capitalised_as_the_names_language_does(name, shown):
    assert initials(name) == shown


def test_a_turkish_badges_generated_image_shows_its_turkish_capitals():
    assert ">İŞ<" in default_svg("ilk şampiyon", "#1c7ed6").decode()


def _glyph_drawn(font, letter: str) -> bool:
    """Whether the font draws the letter, not the empty box it draws for a letter it lacks."""
    return bytes(font.getmask(letter)) != bytes(font.getmask("\U0010FFFD"))


@pytest.mark.skipif(not os.path.exists(baking.FONT), reason="fonts-dejavu-core is not installed (.ci/run installs it)")
def test_a_baked_badges_generated_png_draws_turkish_letters_not_empty_boxes():
    font, text = baking._lettering("Şampiyon Öğrenci", 80)
    assert text == "ŞÖ" and all(_glyph_drawn(font, letter) for letter in text)
    assert baking.generated_png("Şampiyon Öğrenci", "#1c7ed6").startswith(b"\x89PNG")


def test_without_the_font_the_letters_are_shown_without_their_accents_rather_than_as_boxes(monkeypatch):
    monkeypatch.setattr(baking, "FONT", "/nonexistent/font.ttf")
    font, text = baking._lettering("Şampiyon İlk", 80)
    assert text == "SI" and all(_glyph_drawn(font, letter) for letter in text)
    assert baking._lettering("日本 賞", 80)[1] == "*"  # nothing it can draw: the plain mark
