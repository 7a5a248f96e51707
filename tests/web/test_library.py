"""The community library: filters, reactions, reuses that credit the author, reports, hiding, anonymity."""
import re

import pytest

from tests.web.helpers import log_experiment, text, visible


def _experiment_path(response) -> str:
    return response.headers["Location"].split("/logged")[0]


def _points(client, token, dimension="total") -> int:
    page = text(client.get("/app/recognition", query_string={"lt": token}))
    testid = "points-total" if dimension == "total" else f"dim-{dimension}"
    return int(re.search(rf'data-testid="{testid}">(-?\d+)<', page).group(1))


def test_reuse_credits_the_author_once_and_reactions_count(client, launch):
    author = launch(sub="author", name="Ann Author")
    path = _experiment_path(log_experiment(client, author, title="Prompt for rubric feedback", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader", name="Rex Reader")
    before = _points(client, author, "sharing")
    client.post(f"{path}/reuse", data={"lt": reader})
    client.post(f"{path}/reuse", data={"lt": reader})  # twice: still one reuse
    client.post(f"{path}/react", data={"lt": reader, "kind": "helpful"})
    assert _points(client, author, "sharing") == before + 5
    page = visible(client.get(path, query_string={"lt": reader}))
    assert "Helpful: 1" in page and "Reused: 1" in page
    why = visible(client.get("/app/recognition", query_string={"lt": author}))
    assert "Your experiment “Prompt for rubric feedback” was reused by a colleague" in why


def test_a_pressed_reaction_button_takes_the_reaction_back_and_says_so(client, launch):
    """A reaction given by mistake stayed for good: its button was disabled once pressed. It is a toggle now, pressed
    (aria-pressed) while the reaction stands; pressing it again takes it back."""
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, title="Prompt for rubric feedback", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader")

    def helpful_button(page):
        return re.search(r'action="([^"]*)"[^>]*>(?:(?!</form>).)*name="kind" value="helpful">'
                         r'<button aria-pressed="(true|false)"', page, re.S)

    shown = helpful_button(text(client.get(path, query_string={"lt": reader})))
    assert shown.group(2) == "false" and shown.group(1).endswith("/react")
    client.post(f"{path}/react", data={"lt": reader, "kind": "helpful"})
    shown = helpful_button(text(client.get(path, query_string={"lt": reader})))
    assert shown.group(2) == "true" and shown.group(1).endswith("/unreact")
    assert "Helpful: 1" in visible(client.get(path, query_string={"lt": reader}))
    sent = client.post(f"{path}/unreact", data={"lt": reader, "kind": "helpful"})
    assert sent.status_code == 303
    page = text(client.get(sent.headers["Location"]))
    assert '<p class="toast" role="status">Your reaction was taken back.</p>' in page
    assert helpful_button(page).group(2) == "false" and "Helpful: 0" in visible(client.get(path, query_string={
        "lt": reader}))


@pytest.mark.parametrize("action, data, said", [
    ("unreact", {"kind": "helpful"}, "You had no such reaction to take back."),
    ("react", {"kind": "helpful"}, "You had already given this reaction: it still stands."),
    ("reuse", {}, "You had already marked this as reused: its author was credited then."),
])
def test_a_press_from_a_stale_page_says_what_stands_not_that_it_was_done(client, launch, action, data, said):
    """The same button pressed in a second tab (or after Back) found nothing to do: the page said "Your reaction was
    taken back." where there was none to take back, or "added" where it had stood already."""
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, title="Prompt for rubric feedback", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader")
    if action != "unreact":
        client.post(f"{path}/{action}", data={"lt": reader, **data})  # the first tab
    before = _points(client, author, "sharing")
    sent = client.post(f"{path}/{action}", data={"lt": reader, **data})  # the stale one
    assert sent.status_code == 303
    page = visible(client.get(sent.headers["Location"]))
    assert said in page
    assert "Your reaction was taken back." not in page and "Your reaction was added." not in page
    assert _points(client, author, "sharing") == before


def test_authors_cannot_react_to_or_reuse_their_own(client, launch):
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, outcome="worked", learned=""))
    response = client.post(f"{path}/reuse", data={"lt": author})
    assert response.status_code == 422
    assert _points(client, author, "sharing") == 0


def test_library_filters_by_search_and_outcome(client, launch):
    author = launch(sub="author")
    log_experiment(client, author, title="Spreadsheet formulas with AI", outcome="worked", learned="")
    log_experiment(client, author, title="Essay marking attempt", outcome="failed",
                   learned="It was too generous without worked examples.")
    reader = launch(sub="reader")
    found = text(client.get("/app/experiments", query_string={"lt": reader, "q": "spreadsheet"}))
    assert "Spreadsheet formulas with AI" in found and "Essay marking attempt" not in found
    failed = text(client.get("/app/experiments", query_string={"lt": reader, "outcome": "failed"}))
    assert "Essay marking attempt" in failed and "Spreadsheet formulas" not in failed


def test_report_then_manager_hides_and_learners_no_longer_see_it(client, launch, app):
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, title="Pasted a client contract", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader")
    client.post(f"{path}/report", data={"lt": reader, "reason": "Looks like client data"})
    manager = launch(role="instructor", sub="boss")
    assert "Looks like client data" in text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    client.post(f"{path}/hide", data={"lt": manager, "reason": "Possible client data; checking with author"})
    assert "Pasted a client contract" not in text(client.get("/app/experiments", query_string={"lt": reader}))
    assert client.get(path, query_string={"lt": reader}).status_code == 404
    assert "Hidden by a manager" in text(client.get(path, query_string={"lt": author}))
    admin = launch(role="admin", sub="admin")
    audit = text(client.get("/app/admin/audit", query_string={"lt": admin}))
    assert "experiment.hidden" in audit and "Possible client data" in audit


def test_reporting_reacting_and_reusing_each_say_they_were_done(client, launch):
    """The page a report comes back to looked exactly as before it (the form folds away), so nobody could tell the
    report had reached the managers; a screen reader announced nothing after any of the three buttons."""
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, title="Pasted a client contract", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader")
    for action, data, said in (
            ("report", {"reason": "Looks like client data"}, "Thank you: the managers of this course will look at it."),
            ("react", {"kind": "helpful"}, "Your reaction was added."),
            ("reuse", {}, "Marked as reused: its author is credited.")):
        sent = client.post(f"{path}/{action}", data={"lt": reader, **data})
        assert sent.status_code == 303
        page = text(client.get(sent.headers["Location"]))
        status = re.search(r'<p class="toast" role="status">([^<]*)</p>', page)
        assert status and status.group(1) == said, (action, status)
    assert 'role="status"' not in text(client.get(path, query_string={"lt": reader}))  # only right after the action


def test_a_report_too_short_comes_back_on_the_post_with_the_typed_reason_and_its_message(client, launch):
    """A two-letter reason passes the browser's `required` and was refused with the generic error page: away
    from the post, the reason gone, only a link to the dashboard. It comes back on the post instead, the report
    form open with what was typed, the field marked invalid and described by its message."""
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, title="Pasted a client contract", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader")
    refused = client.post(f"{path}/report", data={"lt": reader, "reason": "no"})
    page = text(refused)
    assert refused.status_code == 422
    assert "<h1>Pasted a client contract</h1>" in page
    field = re.search(r'<input id="report-reason"[^>]*>', page).group(0)
    assert 'value="no"' in field and 'aria-invalid="true"' in field
    described_by = re.search(r'aria-describedby="([^"]+)"', field).group(1)
    assert re.search(rf'<p class="field-error" id="{described_by}">3 to 1000 characters.</p>', page)
    assert re.search(r'<details open>\s*<summary>Report this post</summary>', page)
    assert "Say briefly what is wrong." in visible(refused)


def test_learner_cannot_hide(client, launch):
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, outcome="worked", learned=""))
    reader = launch(sub="reader")
    assert client.post(f"{path}/hide", data={"lt": reader, "reason": "I do not like it"}).status_code == 403


def test_a_failure_shared_anonymously_hides_the_author_from_everyone_else(client, launch):
    author = launch(sub="author", name="Secret Sam")
    log_experiment(client, author, title="Tried AI for a tricky email", outcome="failed",
                   learned="Tone was off; I should give it examples of our style.", anonymous="on")
    for token in (launch(sub="reader", name="Rita"), launch(role="instructor", sub="boss", name="Boss")):
        feed = visible(client.get("/app/experiments", query_string={"lt": token}))
        assert "Tried AI for a tricky email" in feed
        assert "Anonymous colleague" in feed and "Secret Sam" not in feed
    assert "Secret Sam" in visible(client.get("/app/experiments", query_string={"lt": author}))


def test_only_failures_can_be_anonymous(client, launch):
    author = launch(sub="author")
    response = log_experiment(client, author, outcome="worked", learned="", anonymous="on")
    assert response.status_code == 422
    assert "Only experiments that did not work can be shared anonymously" in visible(response)


def test_a_colleague_who_reports_a_post_is_told_it_was_sent(client, launch):
    author = launch(sub="author")
    path = _experiment_path(log_experiment(client, author, title="Pasted a client contract", outcome="worked",
                                           learned=""))
    reader = launch(sub="reader")
    before = visible(client.get(path, query_string={"lt": reader}))
    response = client.post(f"{path}/report", data={"lt": reader, "reason": "Looks like client data"})
    assert response.status_code == 303
    after = visible(client.get(response.headers["Location"]))
    assert "report was sent" not in before
    assert "Thank you: the managers of this course will look at it." in after


def test_a_manager_is_not_offered_to_restore_an_erased_learners_post(client, launch, app):
    from plugin.extensions import db
    from plugin.tenancy.models import User

    author = launch(sub="author", name="Ann Author")
    path = _experiment_path(log_experiment(client, author, title="Prompt for rubric feedback", outcome="worked",
                                           learned=""))
    manager = launch(role="instructor", sub="boss")
    admin = launch(role="admin", sub="admin")
    with app.app_context():
        author_id = db.session.scalar(db.select(User.id).where(User.sub == "author"))
    assert client.post(f"/app/admin/privacy/erase/{author_id}",
                       data={"lt": admin, "confirm": "ERASE"}).status_code == 303
    page = visible(client.get(path, query_string={"lt": manager}))
    assert "[erased]" in page and "Restore post" not in page and "Hide post" not in page
    assert client.post(f"{path}/unhide", data={"lt": manager}).status_code == 409
    reader = launch(sub="reader")
    assert client.get(path, query_string={"lt": reader}).status_code == 404
