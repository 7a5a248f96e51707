"""Languages: English (the source text) and Turkish, chosen per request.

The order is: the language the person picked in Tinker (stored on their account), then the launch's
`locale` claim (Moodle sends "tr", Canvas "tr-TR"), then the browser's Accept-Language, then English.
Templates mark text with `_()` / `{% trans %}`; Python code with `gettext` (or `lazy_gettext` at import
time). Dates and numbers go through the filters below so they follow the locale too.
"""
from __future__ import annotations

from babel import Locale
from flask import Flask, g, has_request_context, request
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
    lazy_gettext,
)

LOCALES = ("en", "tr")
DEFAULT_LOCALE = "en"



def supported(tag: str | None) -> str | None:
    """The supported language a BCP 47 / POSIX tag asks for ("tr-TR", "tr_TR", "TR" -> "tr"), or None."""
    if not tag:
        return None
    language = tag.replace("_", "-").split("-")[0].strip().lower()
    return language if language in LOCALES else None


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    # The launch session's language: the person's choice with the header's switch (which also starts their later
    # launches), else what the LMS said. A plain value read at launch-token time, not the LaunchSession row: a
    # page rendered after a rollback (the database-outage page) must not send the ORM back to the database.
    if supported(g.get("launch_locale")):
        return supported(g.launch_locale)
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def language_name(code: str) -> str:
    """A language's name in that language ("English", "Türkçe"), for the switch."""
    return Locale.parse(code).get_display_name(code).capitalize()


def _date(value, format: str = "medium"):  # noqa: A002 - Jinja filter keyword
    return "" if value is None else format_date(value, format)


def _datetime(value, format: str = "medium"):  # noqa: A002
    return "" if value is None else format_datetime(value, format)


def _number(value, format: str | None = None):  # noqa: A002
    return "" if value is None else format_decimal(value, format)


def _percent(value, format: str | None = None):  # noqa: A002
    """A share in 0..1 as a percentage in the locale's style ("42%" / "%42")."""
    return "" if value is None else format_percent(value, format)


def select_timezone() -> str | None:
    """Times in the organisation's zone (an admin setting) once someone has launched; UTC before."""
    actor = g.get("actor") if has_request_context() else None
    if actor is None:
        return None
    from plugin.settings.service import time_zone_name

    return time_zone_name(actor.organisation_id)


ROLE_NAMES = {"learner": lazy_gettext("Learner"), "manager": lazy_gettext("Manager"), "admin": lazy_gettext("Admin"),
              "observer": lazy_gettext("Observer")}


def role_name(role) -> str:
    """A course role as people read it ("Learner" / "Öğrenen")."""
    value = getattr(role, "value", role)
    return str(ROLE_NAMES.get(value, value))


def current_locale() -> str:
    return str(get_locale() or DEFAULT_LOCALE)


def register_i18n(app: Flask) -> None:
    # A Babel per app: Flask-Babel caches loaded catalogs on the instance's domain, so apps sharing one (the test
    # suite's app and its pseudo-locale app in one process) would read each other's "tr" catalog.
    Babel().init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                     default_locale=DEFAULT_LOCALE,
                     default_translation_directories="translations", default_domain="messages")
    from plugin.field_messages import localise_field_errors
    from plugin.onboarding.names import seeded

    app.jinja_env.filters.update(date=_date, datetime=_datetime, number=_number, percent=_percent,
                                 field_messages=localise_field_errors, seeded=seeded)
    app.jinja_env.globals.update(LOCALES=LOCALES, language_name=language_name, current_locale=current_locale,
                                 role_name=role_name)
