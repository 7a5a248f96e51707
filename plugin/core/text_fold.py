"""Case-insensitive comparison of names and search words that both databases make alike.

SQLite's lower() folds ASCII only, so it gets casefold() (registered per connection, core.db); PostgreSQL's
lower() does too under the C locale, so it folds with the ICU root collation where the server has one. Both
then fold the Turkish i's: İ, I, ı and i all become i. So "şablon" finds "Şablon", "ÇİZELGE" equals
"çizelge" and "öztürk" finds "Can Öztürk" whichever database runs. What is compared is in NFC (core.names stores
names so; the words and values folded here are put in it), so "Ç" typed as "C" and a combining cedilla is "Ç"."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy import text as sa_text

from plugin.core.names import tidy as tidy_name
from plugin.extensions import db


def key(value: str) -> str:
    """`value` folded in Python alone, as folder() folds on either database (for names compared in Python), and
    tidied as names are stored (core.names.tidy): a name stored before names were tidied (a double space, a stray
    control character, decomposed letters) compares alike with the same name sent now."""
    return _turkish_i(tidy_name(value)).casefold().replace("\u0307", "").replace("\u0131", "i")  # tidy: in NFC


def _turkish_i(value: str) -> str:
    """The Turkish capital i's of a text in NFC (an "İ" typed as "I" and a combining dot is one "İ" then)."""
    return value.replace("İ", "i").replace("I", "i")


def folder() -> tuple[Callable, Callable[[str], str]]:
    """(SQL folding a column, Python folding a value) alike, for this session's database."""
    if db.session.get_bind().dialect.name == "sqlite":
        lower, lower_word = func.casefold, str.casefold
    else:
        icu = db.session.scalar(select(sa_text("1")).select_from(sa_text("pg_collation")).where(
            sa_text("collname = 'und-x-icu'")).limit(1)) is not None
        lower = (lambda column: func.lower(column.collate("und-x-icu"))) if icu else func.lower
        lower_word = str.lower

    def column(value):
        return func.replace(func.replace(lower(value), "\u0307", ""), "\u0131", "i")

    def word(value: str) -> str:
        return lower_word(_turkish_i(unicodedata.normalize("NFC", value))).replace("\u0307", "").replace("\u0131", "i")

    return column, word
