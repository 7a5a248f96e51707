"""Administration and integrations in Turkish: a launch whose locale claim is Turkish gets the admin pages,
their dates and numbers, and the admin area's domain messages in Turkish; an English launch is unchanged."""
import ast
import html
import pathlib
import re
from datetime import datetime, timezone

from tests.web.helpers import experiment_form, log_experiment, text, visible

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
RETURN_URL = "https://lms.example.edu/course/view.php?id=1"


def in_locale(tag: str) -> dict:
    return {"overrides": {LTI + "launch_presentation": {"return_url": RETURN_URL, "locale": tag}}}


def new_rule(client, token: str, **overrides):
    form = {"lt": token, "condition": "experiment_count", "name": "Early adopter", "param_count": "1",
            "param_window_days": "0", "points": "1500", "dimension": "experimenting", "active": "on",
            "action": "save", **overrides}
    return client.post("/app/admin/rules/save", data=form)


def test_a_turkish_launch_shows_the_rules_in_turkish_with_turkish_numbers(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    assert new_rule(client, admin).status_code == 303

    page = visible(client.get("/app/admin/rules/", query_string={"lt": admin}))
    assert "Takdir kuralları" in page and "Recognition rules" not in page
    assert "Kaydedilen denemeler (filtrelerle) bir sayıya ulaşır" in page  # the condition's label
    assert "Etkin, kişi başına bir kez" in page  # a once-only rule that is on
    assert "1.500" in page and "1,500" not in page  # Turkish digit grouping
    assert "Early adopter" in page  # what the admin typed stays as typed

    editor = visible(client.get("/app/admin/rules/new", query_string={"lt": admin, "condition": "level_reached"}))
    assert "Ne zaman denetlenir: puanlar değiştiğinde." in editor
    assert "Meraklı (0 puan)" in editor  # level options: the seeded level name in Turkish, as learners read it


def test_the_same_pages_in_english_are_unchanged(client, launch):
    admin = launch(role="admin", sub="boss")
    assert new_rule(client, admin).status_code == 303
    page = visible(client.get("/app/admin/rules/", query_string={"lt": admin}))
    assert "Recognition rules" in page and "Takdir" not in page
    assert "Experiments logged (with filters) reach a number" in page and "Active, once per person" in page
    assert "1,500" in page
    editor = visible(client.get("/app/admin/rules/new", query_string={"lt": admin}))
    assert "Checked when an experiment is logged." in editor and "What earns it" in editor


def test_rule_editor_refusals_are_in_turkish_field_by_field(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr"))
    refused = new_rule(client, admin, name=" ", param_count="many")
    assert refused.status_code == 422
    body = visible(refused)
    assert "Kurala bir ad verin." in body
    assert "Lütfen bir tam sayı girin." in body  # the condition's own param, under its field
    assert "Give the rule a name." not in body and "Not a valid integer" not in body

    too_many = visible(new_rule(client, admin, param_count="20000"))
    assert "1 ile 10000 arasında bir tam sayı." in too_many


def test_a_missing_rule_is_reported_in_turkish(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    response = client.get("/app/admin/rules/999999", query_string={"lt": admin})
    assert response.status_code == 404 and "Böyle bir kural yok." in visible(response)


def test_scoring_limits_and_time_zone_messages_in_turkish(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    limits = client.post("/app/admin/scoring/limits", data={"lt": admin, "daily_points_cap": "lots"})
    assert limits.status_code == 422
    body = visible(limits)
    assert "Lütfen kontrol edin" in body and "Lütfen bir tam sayı girin." in body and "Bu alanı doldurun." in body
    zone = client.post("/app/admin/time-zone", data={"lt": admin, "time_zone": "Mars/Olympus"})
    assert zone.status_code == 422 and "Listeden bir saat dilimi seçin." in visible(zone)


def test_api_tokens_page_and_its_refusals_in_turkish(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    refused = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "BI", "days": "999"})
    assert refused.status_code == 422
    body = visible(refused)
    assert "Kapsamları şunlar arasından seçin: awards:write, insights:read, ledger:read." in body
    assert "Bir anahtar 1 ile 366 gün arasında geçerli olabilir." in body
    assert "Kurumun puan defterini dışa aktarma" in body  # a scope's description

    issued = client.post("/app/admin/api-tokens/", data={"lt": admin, "name": "BI", "days": "30",
                                                         "scopes": "ledger:read"})
    assert issued.status_code == 201
    page = visible(issued)
    assert "Yeni anahtarı şimdi kopyalayın" in page and "hiç" in page  # never used yet

    audit = visible(client.get("/app/admin/audit", query_string={"lt": admin}))
    assert "API anahtarı oluşturuldu" in audit and "api_token.issued" in audit  # label, and the code for lookups
    assert "(Yönetim)" in audit  # the role, as people read it
    assert "Kapsamlar: Kurumun puan defterini dışa aktarma" in audit  # the scope, worded as on the tokens page


def test_xapi_settings_refusals_and_counts_in_turkish(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    refused = client.post("/app/admin/xapi/settings", data={"lt": admin, "enabled": "on", "endpoint": ""})
    assert refused.status_code == 422
    body = visible(refused)
    assert "xAPI'yi açmak için LRS adresini girin." in body
    assert "LRS'nin Tinker için verdiği anahtarı (kullanıcı adını) girin." in body
    assert "0 gönderildi, 0 bekliyor, 0 başarısız." in body
    assert "xAPI <strong>kapalı</strong>" in text(refused)

    test_refused = client.post("/app/admin/xapi/test", data={"lt": admin})
    assert test_refused.status_code == 422 and "Önce xAPI'yi açın ve LRS bilgilerini kaydedin." in visible(test_refused)


def test_erasure_page_counts_and_dates_in_turkish(app, client, launch):
    from plugin.extensions import db
    from plugin.tenancy.models import User

    learner = launch(sub="ada")
    log_experiment(client, learner, outcome="worked", learned="")
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    search = client.get("/app/admin/privacy", query_string={"lt": admin, "q": "Test"})
    body = visible(search)
    assert "Öğrenen" in body and "Personel" in body  # roles as people read them; staff cannot be erased here
    link = html.unescape(re.search(r'href="(/app/admin/privacy/erase/(\d+)[^"]*)"', text(search)).group(1))
    user_id = int(re.search(r"/erase/(\d+)", link).group(1))

    confirm = visible(client.get(link))
    assert "1 denemenin metni (paylaşılan denemelerden de çıkarılır)." in confirm
    assert "korunur: yalnızca kimlikler ve miktarlar (hiç dokunulmaz)" in confirm  # ledger_entry.user_id
    refused = client.post(link.split("?")[0], data={"lt": admin, "confirm": "yes"})
    assert refused.status_code == 422 and "Onaylamak için ERASE yazın." in visible(refused)

    with app.app_context():
        db.session.get(User, user_id).erased_at = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)
        db.session.commit()
    assert "Bu hesap 05 Eki 2026 tarihinde silindi." in visible(client.get(link))
    english = launch(role="admin", sub="boss")
    assert "This account was erased on 05 Oct 2026." in visible(
        client.get(link.split("?")[0], query_string={"lt": english}))


def test_the_learners_note_about_a_failure_without_reflection_is_in_turkish(client, launch):
    form = experiment_form(client, launch(sub="ada"))  # the list items' ids, read from an English page
    turkish = launch(sub="ada", **in_locale("tr"))
    sent = {**form, "lt": turkish, "outcome": "failed", "learned": "Too vague."}
    asked = visible(client.post("/app/experiments", data=sent))  # asked first, before anything is saved
    assert "Değerlendirme, deneme puanını 20 karakterden itibaren kazanır; bu değerlendirme 10 karakter." in asked
    assert "Deneme puanı olmadan, olduğu gibi kaydet" in asked
    logged = client.post("/app/experiments", data={**sent, "short_reflection_ok": "on"})
    assert logged.status_code == 303 and "short_reflection" in logged.headers["Location"]
    page = visible(client.get(logged.headers["Location"]))
    assert "İşe yaramayan denemeler bir değerlendirmeyle puan kazanır" in page


def test_every_recorded_audit_action_has_a_label():
    """A new record(..., "area.thing", ...) call without a label would show its bare code to Turkish admins."""
    from plugin.audit.service import ACTION_LABELS

    recorded = set()
    for path in (pathlib.Path(__file__).resolve().parents[2] / "plugin").rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text())):
            name = getattr(call, "func", None)
            if isinstance(call, ast.Call) and getattr(name, "id", getattr(name, "attr", None)) in (
                    "record", "record_system", "_audit"):
                recorded |= {a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                             and re.fullmatch(r"[a-z_]+\.[a-z_]+", a.value)}
    assert "rule.created" in recorded and "privacy.text_purged" in recorded  # the scan finds calls
    from plugin.rules.definitions import ARCHIVED, DELETED

    recorded |= {f"rule.{outcome}" for outcome in (ARCHIVED, DELETED)}  # record(actor, f"rule.{outcome}", ...)
    assert recorded - set(ACTION_LABELS) == set()


def test_the_xapi_status_table_in_turkish(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr-TR"))
    saved = client.post("/app/admin/xapi/settings", data={
        "lt": admin, "enabled": "on", "endpoint": "https://lrs.example.org/xAPI/", "key": "tinker", "secret": "s"})
    assert saved.status_code == 303
    page = visible(client.get(saved.headers["Location"]))
    assert "xAPI ayarları kaydedildi." in page and "xAPI açık" in page
    queued = client.post("/app/admin/xapi/test", data={"lt": admin})
    page = visible(client.get(queued.headers["Location"]))
    assert "Sınama ifadesi sıraya alındı." in page
    assert "Sınama ifadesi (tested the connection to)" in page and "Bekliyor" in page  # the verb: statement content
    assert "0 gönderildi, 1 bekliyor, 0 başarısız." in page


def _buttons(page_html: str) -> list[str]:
    """Each button's and button-like link's words as read, without the hidden text naming what it acts on."""
    page_html = re.sub(r'<button[^>]*name="language".*?</button>', "", page_html, flags=re.S)  # a language's name
    found = re.findall(r'<button\b[^>]*>(.*?)</button>|<a\b[^>]*class="button[^"]*"[^>]*>(.*?)</a>', page_html, re.S)
    words = [re.sub(r'<span class="visually-hidden">.*?</span>|<[^>]+>', " ", a or b) for a, b in found]
    return [" ".join(html.unescape(w).split()) for w in words if w.strip()]


def _polite(label: str) -> bool:
    """The polite imperative of the Turkish copy ("Kaydedin", "Ekleyin"), not the curt one ("Kaydet", "Ekle"):
    the phrase's verb, its last word before a parenthesis, ends in -(y)in/-ın/-un/-ün."""
    verb = re.split(r"[(:]", label)[0].split()[-1]
    return re.search(r"[iıuü]n$", verb) is not None


def test_the_webhooks_and_vision_pages_buttons_address_the_admin_politely(client, launch):
    admin = launch(role="admin", sub="boss", **in_locale("tr"))
    added = client.post("/app/admin/webhooks", data={"lt": admin, "url": "https://hooks.example.org/tinker",
                                                     "events": "badge.earned"})
    assert added.status_code == 201
    webhooks = _buttons(text(client.get("/app/admin/webhooks", query_string={"lt": admin})))
    vision = _buttons(text(client.get("/app/vision/edit", query_string={"lt": admin})))
    assert "Uç nokta ekleyin" in webhooks and "Kaldırın" in webhooks
    assert "Yapay zekâ vizyonunu kaydedin" in vision
    curt = [label for label in webhooks + vision if not _polite(label)]
    assert curt == []
