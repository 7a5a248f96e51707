"""Back to the experiment form after saving it, in a real browser: chromium refills what was typed, but the page comes
afresh with a new submission key, so Save again logged a second copy of the entry (found in a walkthrough; the copy
earned nothing, but stood in the library twice). Saved again unchanged, it is the entry already saved; changed, it is
a new one, and nothing typed is lost."""
from playwright.sync_api import expect

from tests.e2e.test_learner_journey import launch_from_dev_lms, log_experiment_in


def _tool_frame(page):
    return next(f for f in page.frames if "/app/" in f.url)


def _saved_id(page) -> int:
    expect(page.frame_locator("iframe[name=tool-frame]").get_by_role("heading", name="Experiment saved")).to_be_visible()
    url = _tool_frame(page).url
    return int(url.split("/app/experiments/")[1].split("/")[0])


def _back_to_the_form(page):
    _tool_frame(page).evaluate("history.back()")
    frame = page.frame_locator("iframe[name=tool-frame]")
    expect(frame.get_by_role("button", name="Save experiment")).to_be_visible()
    return frame


def test_back_then_save_again_keeps_one_entry_and_an_edit_is_a_new_one(live_server, page):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Naz Kurt", course="dev-course-202")
    frame.get_by_role("button", name="English").click()
    expect(frame.get_by_role("heading", name="My dashboard")).to_be_visible()
    log_experiment_in(frame, "Drafted quiz questions with an AI", tried="Asked for ten questions on photosynthesis.",
                      outcome="It worked", learned="")
    first = _saved_id(page)

    frame = _back_to_the_form(page)
    expect(frame.get_by_label("Title")).to_have_value("Drafted quiz questions with an AI")  # the browser refilled it
    frame.get_by_role("button", name="Save experiment").click()
    assert _saved_id(page) == first, "Back and Save again logged a second copy"

    frame = _back_to_the_form(page)
    frame.get_by_label("Title").fill("Drafted quiz answers with an AI")
    frame.get_by_role("button", name="Save experiment").click()
    second = _saved_id(page)
    assert second != first, "the edited entry was dropped: the first one came back in its place"
    frame = page.frame_locator("iframe[name=tool-frame]")
    expect(frame.get_by_role("heading", name="Drafted quiz answers with an AI")).to_be_visible()

    from plugin.experiments.models import Experiment
    from plugin.extensions import db

    with live_server.app_context():  # what the library holds: one of each, no copy
        titles = sorted(t for (t,) in db.session.query(Experiment.title).filter(Experiment.title.like("Drafted quiz%")))
    assert titles == ["Drafted quiz answers with an AI", "Drafted quiz questions with an AI"]


def test_switching_language_on_a_half_typed_form_keeps_what_was_typed(live_server, page):
    """The language switch brings the page back from the server in the other language: what was typed (text, a
    choice, a radio button) comes back with it, on a fresh form and on one the server sent back with what to fix,
    and saving it then saves it once."""
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    frame = launch_from_dev_lms(page, live_server.base_url, "Naz Kurt", course="dev-course-202")
    frame.get_by_role("button", name="English").click()
    frame.get_by_role("link", name="Log an AI experiment").click()
    frame.get_by_label("Title").fill("Summarised a policy with an AI")
    frame.get_by_label("AI tool").select_option(label="Claude")
    frame.get_by_label("What I tried").fill("Asked for a one-page summary of the travel policy.")
    frame.get_by_label("It worked", exact=True).check()

    frame.get_by_role("button", name="Türkçe").click()
    expect(frame.locator('html[lang="tr"]')).to_have_count(1)
    expect(frame.get_by_label("Başlık")).to_have_value("Summarised a policy with an AI")
    expect(frame.get_by_label("Yapay zekâ aracı").locator("option:checked")).to_have_text("Claude")
    expect(frame.get_by_label("Ne denedim")).to_have_value("Asked for a one-page summary of the travel policy.")
    expect(frame.get_by_label("İşe yaradı", exact=True)).to_be_checked()

    # Sent without the required answers, the form comes back with what to fix; switching back keeps it all too.
    frame.locator("main form button[type=submit]").last.click()
    expect(frame.locator(".error-summary")).to_be_visible()
    frame.get_by_role("button", name="English").click()
    expect(frame.locator('html[lang="en"]')).to_have_count(1)
    expect(frame.get_by_label("Title")).to_have_value("Summarised a policy with an AI")
    expect(frame.get_by_label("It worked", exact=True)).to_be_checked()

    frame.get_by_label("Task category").select_option(label="Assessment design")
    frame.get_by_role("group", name="confidential").get_by_label("No", exact=True).check()
    frame.get_by_label("My course").check()
    frame.get_by_role("button", name="Save experiment").click()
    _saved_id(page)

    from plugin.experiments.models import Experiment
    from plugin.extensions import db

    with live_server.app_context():
        saved = db.session.query(Experiment.title).filter(Experiment.title == "Summarised a policy with an AI").count()
    assert saved == 1
