"""The language people see: the launch's locale, their own choice in the header (which then wins), the
browser's language before any launch; dates and numbers in that language."""
from __future__ import annotations

from tests.support.platform import LTI, token_from
from tests.web.helpers import text


def _launch(client, platform, locale: str | None, sub: str = "user-1") -> str:
    overrides = {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": locale}}
    response, _flow = platform.launch(client, sub=sub, overrides=overrides)
    return token_from(response)


def test_a_launch_in_turkish_shows_turkish_pages(client, platform):
    token = _launch(client, platform, "tr-TR")
    page = text(client.get("/app/", query_string={"lt": token}))
    assert '<html lang="tr">' in page
    assert ">Panom</a>" in page and ">Lider tablosu</a>" in page and ">My dashboard</a>" not in page
    assert ">English<" in page  # the switch offers the other language, named in itself


def test_a_launch_in_english_or_an_unknown_language_shows_english(client, platform):
    for locale in ("en-GB", "fr-FR", None):
        page = text(client.get("/app/", query_string={"lt": _launch(client, platform, locale)}))
        assert '<html lang="en">' in page and ">My dashboard<" in page and ">Türkçe<" in page


def test_the_switch_changes_the_page_and_wins_at_the_next_launch(client, platform):
    token = _launch(client, platform, "en")
    switched = client.post("/app/language/", data={"lt": token, "language": "tr", "next": "/app/leaderboard?period=week"})
    assert switched.status_code == 303
    location = switched.headers["Location"]
    assert location.startswith("/app/leaderboard?period=week&lt=")  # back where they were, with a fresh token
    assert ">Panom<" in text(client.get(location))
    # The LMS still says English, but the person chose Turkish: a new launch opens in Turkish.
    again = text(client.get("/app/", query_string={"lt": _launch(client, platform, "en")}))
    assert ">Panom<" in again
    back = client.post("/app/language/", data={"lt": token, "language": "en"})
    assert ">My dashboard<" in text(client.get(back.headers["Location"]))


def test_the_switch_refuses_other_languages_and_other_sites(client, platform):
    token = _launch(client, platform, "en")
    refused = client.post("/app/language/", data={"lt": token, "language": "de"})
    assert refused.status_code == 422 and "That language is not offered." in text(refused)
    elsewhere = client.post("/app/language/", data={"lt": token, "language": "tr", "next": "https://evil.example/app/"})
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"].startswith("/app/?lt=")
    assert client.post("/app/language/", data={"language": "tr"}).status_code == 401  # the token is required


def test_before_any_launch_the_browser_language_decides(client):
    page = text(client.get("/app/", headers={"Accept-Language": "tr-TR,tr;q=0.9,en;q=0.5"}))
    assert '<html lang="tr">' in page
    assert '<html lang="en">' in text(client.get("/app/", headers={"Accept-Language": "de-DE"}))


def _switch_next(page: str) -> str | None:
    import re

    form = page.split('class="lang-switch"', 1)[1].split("</form>", 1)[0]
    found = re.search(r'name="next" value="([^"]*)"', form)
    return None if found is None else found.group(1).replace("&amp;", "&")


def test_after_a_refused_form_the_switch_goes_back_to_the_form_page(client, platform):
    """The experiment form posts to an address that only takes forms: the page that comes back with what to fix
    sends the switch back to the form's own page (as the browser named it), not to the dashboard; an address of
    another site is not followed."""
    token = _launch(client, platform, "en")
    refused = client.post("/app/experiments", data={"lt": token, "title": "Summarised a policy"},
                          headers={"Referer": f"http://localhost/app/experiments/new?lt={token}"})
    assert refused.status_code == 422
    assert _switch_next(text(refused)) == f"/app/experiments/new?lt={token}"
    back = client.post("/app/language/", data={"lt": token, "language": "tr", "next": _switch_next(text(refused))})
    assert back.headers["Location"].startswith("/app/experiments/new?lt=")
    elsewhere = client.post("/app/experiments", data={"lt": token, "title": "Summarised a policy"},
                            headers={"Referer": f"https://evil.example/app/experiments/new?lt={token}"})
    assert _switch_next(text(elsewhere)) is None
    # A page that also answers GET comes back to itself.
    assert _switch_next(text(client.get("/app/leaderboard", query_string={"lt": token, "period": "week"}))) == \
        f"/app/leaderboard?lt={token}&period=week"


def test_a_seeded_badge_icon_shows_the_initials_of_its_name_in_the_readers_language(client, platform):
    """The generated image of "First experiment" showed "FE" beside its Turkish name "İlk deneme"."""
    import re

    from tests.web.helpers import log_experiment

    log_experiment(client, _launch(client, platform, "en"), outcome="worked", learned="")  # First Try: the badge
    token = _launch(client, platform, "tr-TR")
    page = text(client.get("/app/recognition", query_string={"lt": token}))
    icon = re.search(r'<img class="badge-icon" src="(/badges/\d+/image\?lang=tr)"', page).group(1)
    svg = client.get(icon).get_data(as_text=True)
    assert "<title>İlk deneme</title>" in svg and ">İD</text>" in svg
    stored = client.get(icon.split("?")[0]).get_data(as_text=True)  # as Open Badges documents link it
    assert "<title>First experiment</title>" in stored and ">FE</text>" in stored
