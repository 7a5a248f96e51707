"""Every English diagnostic Tinker stores reads back as the message it was written from, with the same parameters
(the pages translate it from them): a template edited on one side cannot silently stop matching."""
from __future__ import annotations

import importlib
import pathlib
import re

import pytest

from plugin import diagnostics
from plugin.diagnostics import MODULES, find, known_messages

ROOT = pathlib.Path(__file__).resolve().parents[2]
# A receiver's words may hold anything Tinker's own do: colons, parentheses, "HTTP" and numbers.
TRICKY = "busy: try again (in 5 min), HTTP 500 at https://lms.example.edu/x?y=1"


def sample(message) -> dict:
    params = {}
    for index, name in enumerate(message.names):
        last = index == len(message.names) - 1 and message.english.endswith(f"%({name})s")
        if f"%({name})d" in message.english:
            params[name] = 503 + index
        else:
            params[name] = TRICKY if last else f"https://lms.example.edu/api/{name}?page=AbC"
    return params


@pytest.mark.parametrize("message", known_messages(), ids=lambda m: m.english[:60])
def test_every_message_reads_back_as_itself_with_its_parameters(message):
    params = sample(message)
    stored = message(**params)
    found = find(stored)
    assert found is not None, f"{stored!r} matches no message"
    assert found[0] is message, f"{stored!r} is read as {found[0].english!r}"
    assert found[1] == {name: str(value) for name, value in params.items()}


@pytest.mark.parametrize("wrapper", [m for m in known_messages() if m.nested], ids=lambda m: m.english)
def test_every_message_reads_back_inside_each_wrapper(wrapper):
    """"Retry: POST https://...: HTTP 503" is the outbox's wrapper around the AGS message, not an AGS message whose
    method is "Retry:"."""
    for inner in known_messages():
        stored = wrapper(**{**sample(wrapper), **{name: inner(**sample(inner)) for name in wrapper.nested}})
        found = find(stored)
        assert found is not None and found[0] is wrapper, f"{stored!r} is read as {found and found[0].english!r}"
        assert all(find(found[1][name])[0] is inner for name in wrapper.nested)


def test_a_nested_message_reads_back_inside_its_wrapper():
    from plugin.lti import messages as lti
    from plugin.outbox import messages as outbox
    from plugin.webhooks import messages as webhooks

    inner = webhooks.ANSWERED(status=503, detail=TRICKY)
    message, params = find(outbox.RETRY(message=inner))
    assert message is outbox.RETRY and find(params["message"]) == (webhooks.ANSWERED, {"status": "503",
                                                                                      "detail": TRICKY})
    wrapped = lti.ROSTER_ERROR(message=lti.NO_TOKEN(message=lti.TOKEN_REFUSED(status=401, detail="bad jwt")))
    assert find(wrapped)[0] is lti.ROSTER_ERROR


def test_text_no_message_wrote_is_not_taken_for_one():
    assert find("the LMS is down for maintenance") is None
    assert diagnostics.shown_diagnostic("ValueError: boom") == "ValueError: boom"
    assert diagnostics.shown_diagnostic(None) is None


def test_every_module_defining_messages_is_loaded_before_text_is_shown():
    """A message in a module the display never imports would never be matched (shown in English for good)."""
    defining = set()
    for path in (ROOT / "plugin").rglob("*.py"):
        if re.search(r"\bMessage\(N_\(", path.read_text()):
            defining.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert defining == set(MODULES)
    for module in MODULES:
        importlib.import_module(module)
    assert len(known_messages()) == len(diagnostics._messages)


@pytest.mark.parametrize("message", [m for m in known_messages() if re.search(r"%\(\w+\)s", m.english)],
                         ids=lambda m: m.english[:60])
def test_a_message_too_long_for_its_column_is_cut_in_its_free_text_and_still_reads_as_itself(message):
    """Stored text is cut to fit its column (a note's 500, a roster status's 400): cut anywhere, the message's
    own words after the cut would be lost and readers would get the stored English instead of their language."""
    long = {name: ("x" * 900 if isinstance(value, str) else value) for name, value in sample(message).items()}
    for wrapper in [None, *[m for m in known_messages() if m.nested]]:
        stored = message(**long) if wrapper is None else wrapper(**{**sample(wrapper), **{
            name: message(**long) for name in wrapper.nested}})
        fitted = diagnostics.fit(stored, 400)
        assert len(fitted) <= 400
        found = find(fitted)
        expected = message if wrapper is None else wrapper
        assert found is not None and found[0] is expected, fitted
        if wrapper is not None:
            assert all(find(found[1][name])[0] is message for name in wrapper.nested), fitted


def test_text_that_fits_or_is_no_message_is_kept_or_cut_as_before():
    from plugin.outbox import messages as outbox

    assert diagnostics.fit(outbox.RETRY(message="busy"), 400) == "Retry: busy"
    assert diagnostics.fit("ValueError: " + "x" * 600, 500) == ("ValueError: " + "x" * 600)[:500]
