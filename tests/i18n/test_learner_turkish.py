"""The learner side in Turkish: a launch whose locale is Turkish gets Turkish pages, messages, field errors, dates
and numbers; the seeded defaults read in Turkish until an admin renames them; English stays as it was."""
from __future__ import annotations

import re
from datetime import date

from babel.dates import format_date

from tests.support.platform import LTI, token_from
from tests.web.helpers import options, text, visible


def _launch(client, platform, locale: str | None, sub: str = "user-1", role: str = "learner") -> str:
    overrides = {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": locale}}
    response, _flow = platform.launch(client, sub=sub, role=role, overrides=overrides)
    return token_from(response)


def _log(client, token: str, **overrides):
    """Log an experiment from the form, whatever its language: tool and category picked by position, not label."""
    page = text(client.get("/app/experiments/new", query_string={"lt": token}))
    tools, categories = options(page, "ai_tool"), options(page, "task_category")
    data = {"lt": token, "submission_key": re.search(r'name="submission_key" value="([^"]+)"', page).group(1),
            "title": "Asked an AI to draft a quiz", "ai_tool": next(iter(tools.values())),
            "task_category": next(iter(categories.values())),
            "tried": "Gave it the learning outcomes and asked for ten questions.", "outcome": "failed",
            "learned": "It invented facts; next time I will paste the source text.", "minutes_saved": "0",
            "sensitive_data": "no", "visibility": "course", **overrides}
    return client.post("/app/experiments", data=data)


def test_a_turkish_launch_logs_an_experiment_in_turkish_with_turkish_dates_and_numbers(client, platform):
    token = _launch(client, platform, "tr-TR")
    form = visible(client.get("/app/experiments/new", query_string={"lt": token}))
    assert "Yapay zekâ denemesi kaydedin" in form and "Ne denedim" in form and "Kimler görebilir?" in form
    assert "Log an AI experiment" not in form

    logged = _log(client, token, minutes_saved="1500")
    assert logged.status_code == 303
    after = visible(client.get(logged.headers["Location"]))
    assert "Deneme kaydedildi" in after
    assert "Denediğiniz için +20 puan." in after
    assert "+10 Deneme kaydetti +10 Hatadan Öğren" in after  # each rule's part, under its seeded name in Turkish
    assert "Yeni rozet: İlk deneme" in after and "Yeni rozet: Hatadan Öğren" in after  # seeded badges, in Turkish

    feed = visible(client.get("/app/experiments", query_string={"lt": token}))
    assert "1.500 dk kazanıldı" in feed  # Turkish digit grouping
    assert format_date(date.today(), "dd MMM y", locale="tr") in feed  # e.g. "29 Kas 2026"
    assert "İşe yaramadı" in feed and "Did not work" not in feed

    dashboard = visible(client.get("/app/", query_string={"lt": token}))
    assert "Panom" in dashboard and "Puanlarım" in dashboard
    assert "Seviye: Meraklı" in dashboard  # the seeded ladder's first level


def test_the_same_steps_in_english_are_unchanged(client, platform):
    token = _launch(client, platform, "en-GB")
    logged = _log(client, token, minutes_saved="1500")
    after = visible(client.get(logged.headers["Location"]))
    assert "+20 points for trying." in after and "+10 Fail Forward" in after
    assert "New badge: First experiment" in after
    feed = visible(client.get("/app/experiments", query_string={"lt": token}))
    assert "1,500 min saved" in feed and date.today().strftime("%d %b %Y") in feed and "Did not work" in feed


def test_refusals_and_field_messages_are_in_turkish(client, platform):
    token = _launch(client, platform, "tr")
    # A rule of the domain (a failure needs its lesson) and marshmallow's own length message, on the form.
    too_short = _log(client, token, title="ab")
    assert too_short.status_code == 422
    page = visible(too_short)
    assert "Lütfen 1 alanı kontrol edin" in page
    assert "Uzunluk 3 ile 200 arasında olmalı." in page and "Length must be" not in page
    no_lesson = visible(_log(client, token, learned=""))
    assert "İşe yaramadığında ne öğrendiğinizi anlatın: takdiri kazandıran budur." in no_lesson

    # A domain error rendered as an error page: reacting to one's own experiment.
    mine = _log(client, token)
    experiment_id = int(re.search(r"/experiments/(\d+)/logged", mine.headers["Location"]).group(1))
    own = client.post(f"/app/experiments/{experiment_id}/react", data={"lt": token, "kind": "helpful"})
    assert own.status_code == 422
    body = visible(own)
    assert "Lütfen formu kontrol edin" in body
    assert "Bu sizin denemeniz: tepkiler ve yeniden kullanımlar meslektaşlarınızın denemeleri içindir." in body
    assert "Hata 422" in body and "Panoma dönün" in body

    # An address that does not exist, for someone launched in Turkish (no view ran: found from the session).
    missing = client.get("/app/no-such-page")
    assert missing.status_code == 404
    assert "Bulunamadı" in visible(missing) and "Panom" in visible(missing)


def test_the_same_refusal_in_english_is_unchanged(client, platform):
    token = _launch(client, platform, "en")
    page = visible(_log(client, token, title="ab"))
    assert "Please check 1 field " in page and "Length must be between 3 and 200." in page
    missing = client.get("/app/no-such-page")
    assert "Not found" in visible(missing) and "Error 404" in visible(missing)


def test_a_refused_launch_speaks_the_browser_language(client):
    refused = client.post("/lti/launch", data={"state": "x"}, headers={"Accept-Language": "tr-TR,tr;q=0.9"})
    assert refused.status_code == 400
    page = visible(refused)
    assert "Bu başlatma kabul edilemedi" in page and "Başlatmada id_token yok." in page
    assert "Kontrol edilecek: LMS, id_token ve state değerlerini /lti/launch adresine POST ile göndermelidir." in page
    english = visible(client.post("/lti/launch", data={"state": "x"}))
    assert "This launch could not be accepted" in english and "The launch has no id_token." in english


def test_seeded_defaults_read_in_turkish_until_an_admin_renames_them(client, platform):
    admin = _launch(client, platform, "en", sub="boss", role="admin")
    learner = _launch(client, platform, "tr", sub="ayse")
    categories = options(text(client.get("/app/experiments/new", query_string={"lt": learner})), "task_category")
    assert "Değerlendirme tasarımı" in categories and "Assessment design" not in categories

    renamed = client.post(f"/app/admin/lists/categories/{categories['Değerlendirme tasarımı']}",
                          data={"lt": admin, "action": "rename", "name": "Sınav hazırlığı"})
    assert renamed.status_code == 303
    categories = options(text(client.get("/app/experiments/new", query_string={"lt": learner})), "task_category")
    assert "Sınav hazırlığı" in categories and "Değerlendirme tasarımı" not in categories
    # The admin's list keeps the stored words, and the English reader sees the seeded English for the others.
    english = options(text(client.get("/app/experiments/new", query_string={"lt": admin})), "task_category")
    assert "Sınav hazırlığı" in english and "Writing and editing" in english


def test_marshmallow_defaults_and_their_numbers_follow_the_reader(app):
    from flask_babel import force_locale

    from plugin.field_messages import localise_field_errors, localise_message

    with app.test_request_context():
        with force_locale("tr"):
            assert localise_message("Must be greater than or equal to 0 and less than or equal to 100000.") == \
                "0 ile 100.000 arasında olmalı."
            assert localise_field_errors({"json": {"title": ["Missing data for required field."]}}) == \
                {"json": {"title": ["Bu alan zorunludur."]}}
            assert localise_message("Name the tool you used.") == "Name the tool you used."  # not a default: as given
        with force_locale("en"):
            assert localise_message("Must be greater than or equal to 0 and less than or equal to 100000.") == \
                "Must be between 0 and 100,000."


def test_every_seeded_default_has_its_turkish(app):
    from flask_babel import force_locale

    from plugin.levels.service import DEFAULT_DIMENSIONS, DEFAULT_LADDER
    from plugin.onboarding.names import seeded
    from plugin.onboarding.service import BADGES, DEFAULT_CATEGORIES, DEFAULT_VALUES, RULE_PACK

    texts = [*DEFAULT_CATEGORIES, *DEFAULT_VALUES, *[t for _k, name, desc in DEFAULT_DIMENSIONS for t in (name, desc)],
             *[name for name, _t in DEFAULT_LADDER], *[t for b in BADGES for t in b[1:4]], *[r[1] for r in RULE_PACK]]
    with app.test_request_context(), force_locale("tr"):
        untranslated = [t for t in texts if seeded(t) == t]
        assert untranslated == []
        assert seeded("Prompt clinic") == "Prompt clinic"  # what an admin wrote stays as written
