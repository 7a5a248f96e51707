"""Languages: English (the source text) and Turkish, chosen per request.

The order is: the language the person picked in Tinker (stored on their account), then the launch's
`locale` claim (Moodle sends "tr", Canvas "tr-TR"), then the browser's Accept-Language, then English.
Templates mark text with `_()` / `{% trans %}`; Python code with `gettext` (or `lazy_gettext` at import
time). Dates and numbers go through the filters below so they follow the locale too.
"""
from __future__ import annotations

import copy
from datetime import date
from functools import cache, lru_cache

import flask_babel
from babel import Locale, dates, numbers
from flask import Flask, g, has_request_context, request
from flask.globals import _cv_app
from flask_babel import Babel, get_locale, get_translations
from flask_babel import _get_current_context as _babel_context
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from markupsafe import Markup

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


@cache
def language_name(code: str) -> str:
    """A language's name in that language ("English", "Türkçe"), for the switch."""
    return Locale.parse(code).get_display_name(code).capitalize()


# --- this request's catalog and locale, read once --------------------------------------------------------
# Flask-Babel looks its request context, the locale and the locale's name (its cache key) up again for every
# string and number; a page shows dozens of each, and that lookup cost a board page about a fifth of its time.
# The values are kept where Flask-Babel keeps them, so its refresh() and force_locale() reset them as before.

def _context():
    app_context = _cv_app.get(None)  # the app context itself, not through the `g` proxy: read per string
    if app_context is None:
        return None
    found = app_context.g.__dict__.get("_flask_babel")
    return found if found is not None else _babel_context()


def translations():
    """This request's catalog."""
    context = _context()
    if context is None:
        return get_translations()
    found = getattr(context, "babel_translations", None)
    if found is None:
        found = context.babel_translations = get_translations()
    return found


def locale() -> Locale:
    """This request's locale (English outside a request)."""
    context = _context()
    found = getattr(context, "babel_locale", None) if context is not None else None
    return found if found is not None else (get_locale() or _default_locale())


@cache
def _default_locale() -> Locale:
    return Locale.parse(DEFAULT_LOCALE)


def gettext(string: str, **variables) -> str:
    """Flask-Babel's gettext (no escaping; `%(name)s` filled from the keywords), from the catalog read once."""
    found = translations().ugettext(string)
    return found % variables if variables else found


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """Marked at import time, translated when shown."""
    return LazyString(gettext, string, **variables)


# --- numbers and dates ---------------------------------------------------------------------------------
# A team page formats a hundred numbers, percentages and dates from a small set of values and a handful of
# patterns; Babel parses the pattern and walks its locale data for each. Results are kept per (language,
# value, pattern): LOCALES are languages (no territory changes a separator), and `typed` keeps 1 and 1.0 apart.

_pattern = cache(numbers.parse_pattern)
_parsed = cache(Locale.parse)


@lru_cache(maxsize=8192, typed=True)
def _decimal(language: str, number, format: str | None) -> str:  # noqa: A002
    return numbers.format_decimal(number, format and _pattern(format), locale=_parsed(language))


@lru_cache(maxsize=8192, typed=True)
def _percentage(language: str, number, format: str | None) -> str:  # noqa: A002
    return numbers.format_percent(number, format and _percent_pattern(language, format), locale=_parsed(language))


@cache
def _percent_pattern(language: str, format: str):  # noqa: A002
    """The language's own percent pattern with the digits `format` asks for: "#,##0.#%" is "%#,##0.#" in
    Turkish ("%12,5") and "#,##0.# %" in German. Babel would take `format` as it is, sign and all ("12,5%")."""
    given, own = _pattern(format), copy.copy(_parsed(language).percent_formats[None])
    own.int_prec, own.frac_prec = given.int_prec, given.frac_prec
    return own


@lru_cache(maxsize=4096)
def _day(language: str, value: date, format: str) -> str:  # noqa: A002
    return dates.format_date(value, format, locale=_parsed(language))


def format_decimal(number, format: str | None = None) -> str:  # noqa: A002 - Flask-Babel's signature
    return _decimal(locale().language, number, format)


def format_percent(number, format: str | None = None) -> str:  # noqa: A002
    return _percentage(locale().language, number, format)


def format_date(value, format: str = "medium") -> str:  # noqa: A002
    """A date in the request's language; a datetime is first moved to the organisation's zone (Flask-Babel)."""
    if type(value) is date:
        return _day(locale().language, value, format or "medium")
    return flask_babel.format_date(value, format)


def _number(value, format: str | None = None):  # noqa: A002
    return "" if value is None else format_decimal(value, format)


def _percent(value, format: str | None = None):  # noqa: A002
    """A share in 0..1 as a percentage in the locale's style ("42%" / "%42")."""
    return "" if value is None else format_percent(value, format)


def _date(value, format: str = "medium"):  # noqa: A002 - Jinja filter keyword
    return "" if value is None else format_date(value, format)


def _datetime(value, format: str = "medium"):  # noqa: A002
    return "" if value is None else flask_babel.format_datetime(value, format)


def _next_try(value) -> str:
    """When a waiting delivery is tried next, for its status cell: the time alone when that is later today in the
    organisation's zone, with the day otherwise (a try due tomorrow read as due soon), and overdue once it is past
    (the worker that sends them is not running, or is behind)."""
    if value is None:
        return ""
    from plugin.core.clock import utcnow

    now = utcnow()
    day, today = flask_babel.to_user_timezone(value).date(), flask_babel.to_user_timezone(now).date()
    shown = flask_babel.format_datetime(value, "HH:mm" if day == today else "d MMM HH:mm" if day.year == today.year
                                        else "d MMM y HH:mm")
    if value <= now:
        return gettext("(next try overdue: it was due %(time)s)", time=shown)
    return gettext("(next try %(time)s)", time=shown)


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


# Positional names Jinja's way (dunder), so a template may pass any keyword, `num` and `string` included.
@pass_context
def _template_gettext(__context, __string: str, **variables) -> str:
    """Jinja's newstyle gettext: the translation, marked safe under autoescape, always %-formatted."""
    found = translations().ugettext(__string)
    if __context.eval_ctx.autoescape:
        found = Markup(found)
    return found % variables


@pass_context
def _template_ngettext(__context, __singular: str, __plural: str, __num: int, **variables) -> str:
    variables.setdefault("num", __num)
    found = translations().ungettext(__singular, __plural, __num)
    if __context.eval_ctx.autoescape:
        found = Markup(found)
    return found % variables


def current_locale() -> str:
    return locale().language


def register_i18n(app: Flask) -> None:
    # A Babel per app: Flask-Babel caches loaded catalogs on the instance's domain, so apps sharing one (the test
    # suite's app and its pseudo-locale app in one process) would read each other's "tr" catalog.
    Babel().init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                     default_locale=DEFAULT_LOCALE,
                     default_translation_directories="translations", default_domain="messages")
    from plugin.diagnostics import shown_diagnostic
    from plugin.field_messages import field_words, localise_field_errors
    from plugin.onboarding.names import seeded
    from plugin.privacy.stored_text import shown
    from plugin.teams.names import team_name

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s), ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n), newstyle=True)
    # `_`, gettext and ngettext called straight (newstyle, as installed above): Jinja's `_` resolves gettext in
    # the context and calls it, which calls the catalog through one more context call; a page asks for dozens of
    # strings, a board's rows for two each.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
    # Every value a template writes: what Tinker stored in English about an erased person or a purged entry is
    # shown in the reader's language (plugin/privacy/stored_text.py).
    app.jinja_env.finalize = shown
    app.jinja_env.filters.update(date=_date, datetime=_datetime, number=_number, percent=_percent, next_try=_next_try,
                                 field_messages=localise_field_errors, field_words=field_words, seeded=seeded,
                                 diagnostic=shown_diagnostic, team_name=team_name)
    app.jinja_env.globals.update(LOCALES=LOCALES, language_name=language_name, current_locale=current_locale,
                                 role_name=role_name)
