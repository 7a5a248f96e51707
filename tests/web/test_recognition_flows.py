"""The judged flows of the recognition engine, through the pages: an admin builds a rule, previews and
saves it, and qualifying learners receive it; kudos within budget; peer help counts after confirmation."""
import re

import pytest

from tests.web.helpers import log_experiment, options, text, visible


def test_admin_builds_previews_and_saves_a_rule_and_qualifiers_receive_it(client, launch):
    learner = launch(sub="ada")
    log_experiment(client, learner, outcome="worked", learned="", title="Quiz drafting")
    log_experiment(client, launch(sub="bob"), outcome="worked", learned="", title="Report summary")
    admin = launch(role="admin", sub="boss")

    editor = text(client.get("/app/admin/rules/new", query_string={"lt": admin, "condition": "experiment_count"}))
    assert "How many" in editor
    form = {"lt": admin, "condition": "experiment_count", "name": "Early adopter", "param_count": "1",
            "param_window_days": "0", "points": "25", "dimension": "experimenting", "active": "on"}
    preview = client.post("/app/admin/rules/save", data={**form, "action": "preview"})
    assert preview.status_code == 200
    assert "Preview: 2 people qualify now" in visible(preview)
    assert 'data-testid="points-total">10<' in text(client.get("/app/recognition", query_string={"lt": learner}))

    saved = client.post("/app/admin/rules/save", data={**form, "action": "save"})
    assert saved.status_code == 303 and "awarded=2" in saved.headers["Location"]
    mine = visible(client.get("/app/recognition", query_string={"lt": learner}))
    assert "Early adopter (rule version 1)" in mine
    assert re.search(r'data-testid="points-total">35<', text(client.get("/app/recognition", query_string={"lt": learner})))


def test_a_person_qualifying_in_two_courses_is_one_person_with_a_row_per_course(client, launch):
    """Rules count per course: the preview said "2 people qualify" and listed one name twice, alike."""
    for course in ("course-1", "course-2"):
        log_experiment(client, launch(sub="ada", name="Ada Lovelace", context_id=course), outcome="worked",
                       learned="", title=f"Quiz drafting in {course}")
    admin = launch(role="admin", sub="boss")
    preview = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "experiment_count", "name": "Early adopter", "param_count": "1",
        "param_window_days": "0", "points": "25", "dimension": "experimenting", "active": "on", "action": "preview"})
    shown = visible(preview)
    assert "Preview: 1 person qualifies now" in shown
    assert "Ada Lovelace (Course course-1): 25 points" in shown and "Ada Lovelace (Course course-2): 25 points" in shown
    saved = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "experiment_count", "name": "Early adopter", "param_count": "1",
        "param_window_days": "0", "points": "25", "dimension": "experimenting", "active": "on", "action": "save"})
    assert "awarded=1" in saved.headers["Location"]  # one person, as the preview said


def test_editing_a_rule_changes_nothing_until_the_recalculation_is_applied(client, launch):
    learner = launch(sub="ada")
    log_experiment(client, learner, outcome="worked", learned="")
    admin = launch(role="admin", sub="boss")
    rules = text(client.get("/app/admin/rules/", query_string={"lt": admin}))
    rule_id = re.search(r'href="/app/admin/rules/(\d+)\?lt=[^"]+">Logged an experiment<', rules).group(1)
    edit = client.post("/app/admin/rules/save", data={
        "lt": admin, "rule_id": rule_id, "condition": "each_experiment", "name": "Logged an experiment",
        "param_require_reflection_on_failure": "on", "points": "15", "dimension": "experimenting",
        "repeatable": "on", "active": "on", "action": "save"})
    assert edit.status_code == 303 and "/recalculate" in edit.headers["Location"]
    points = lambda: re.search(r'data-testid="points-total">(\d+)<',
                               text(client.get("/app/recognition", query_string={"lt": learner}))).group(1)
    assert points() == "10"  # unchanged until applied
    diff = visible(client.get(edit.headers["Location"]))
    assert "1 person’s points would change: 5 points added, 0 taken back." in diff
    client.post(f"/app/admin/rules/{rule_id}/recalculate", data={"lt": admin})
    assert points() == "15"
    why = visible(client.get("/app/recognition", query_string={"lt": learner}))
    assert "Reversed: Logged an experiment (rule version 1) (the rules were recalculated)" in why
    assert "Logged an experiment (rule version 2)" in why


def test_the_recalculation_preview_lists_one_line_a_person_with_their_change_and_the_badges_that_move(app, client,
                                                                                                  launch):
    """The preview listed one line per award: a person with three experiments read as the same name three times,
    each with 10 -> 15, and the badges a recalculation would take were a count with no names."""
    from plugin.extensions import db
    from plugin.rules.models import Rule

    ada, bob = launch(sub="ada", name="Ada Lovelace"), launch(sub="bob", name="Bob Byron")
    for title in ("Quiz drafting", "Report summary", "Slide outline"):
        log_experiment(client, ada, outcome="worked", learned="", title=title)
    log_experiment(client, bob, outcome="worked", learned="", title="Meeting notes")
    admin = launch(role="admin", sub="boss")
    with app.app_context():  # ids read here: the rows are not the pages' to keep
        logged, first = ((r.id, r.badge_id) for r in (db.session.scalar(db.select(Rule).where(Rule.name == name))
                                                      for name in ("Logged an experiment", "First Try")))
    base = {"lt": admin, "dimension": "experimenting", "active": "on", "action": "save"}
    edit = client.post("/app/admin/rules/save", data={
        **base, "rule_id": logged[0], "condition": "each_experiment", "name": "Logged an experiment",
        "param_require_reflection_on_failure": "on", "points": "15", "repeatable": "on"})
    page = client.get(edit.headers["Location"])
    shown, body = visible(page), text(page)
    assert "2 people’s points would change: 20 points added, 0 taken back." in shown
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>((?:<td[^>]*>[^<]*</td>)+)</tr>",
                      body.split('data-testid="replay-points"')[1].split("</table>")[0])
    cells = [(name, re.findall(r">([^<]*)</td>", tds)) for name, tds in rows]
    assert cells == [("Ada Lovelace", ["3", "30", "45", "+15"]), ("Bob Byron", ["1", "10", "15", "+5"])]

    edit = client.post("/app/admin/rules/save", data={
        **base, "rule_id": first[0], "condition": "experiment_count", "name": "First Try", "param_count": "2",
        "param_window_days": "0", "points": "0", "badge_id": first[1]})
    page = client.get(edit.headers["Location"])
    lost = text(page).split('data-testid="replay-lost-badges"')[1].split("</table>")[0]
    assert "1 badge would no longer be earned" in lost
    assert re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td>', lost) == [("Bob Byron", "First experiment")]
    assert "Applying keeps it: revoke it by hand, with a reason, if that is right." in visible(page)


def test_rule_editor_refuses_bad_input_with_field_messages(client, launch):
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "experiment_count", "name": "", "param_count": "0", "points": "0",
        "dimension": "experimenting", "action": "save"})
    body = visible(response)
    assert response.status_code == 422
    assert "Give the rule a name." in body and "A rule must give points, a badge, or both." in body


@pytest.mark.parametrize("points, message", [
    ("2147483648", "A whole number from 0 to 100000."), ("100001", "A whole number from 0 to 100000."),
    ("1e3", "A whole number from 0 to 100000."), ("-5", "Points cannot be negative; revoke awards instead.")])
def test_rule_points_out_of_range_are_refused_with_what_was_wrong(client, launch, points, message):
    """A points value too large for the form's whole numbers was told "Points cannot be negative"."""
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "experiment_count", "name": "Big", "param_count": "1", "points": points,
        "dimension": "experimenting", "action": "save"})
    page = text(response)
    assert response.status_code == 422
    field = re.search(r'<input id="r-points"[^>]*>', page).group(0)
    assert f'value="{points}"' in field and 'aria-invalid="true"' in field
    assert message in visible(response)
    if not points.startswith("-"):
        assert "cannot be negative" not in visible(response)


def test_a_rule_saved_with_more_points_than_the_limit_before_it_stays_editable(client, launch):
    """The form let a rule have up to 2**31-1 points before the 100000 limit: such a rule could no longer be renamed or
    switched off (every save was refused for points nobody was changing)."""
    from plugin.extensions import db
    from plugin.rules.models import Rule

    admin = launch(role="admin", sub="boss")
    form = {"lt": admin, "condition": "experiment_count", "name": "Big", "param_count": "1", "param_window_days": "0",
            "points": "25", "dimension": "experimenting", "active": "on", "action": "save"}
    created = client.post("/app/admin/rules/save", data=form)
    rule_id = re.search(r"created=(\d+)", created.headers["Location"]).group(1)
    with client.application.app_context():
        db.session.get(Rule, int(rule_id)).points = 250_000  # as a save before the limit left it
        db.session.commit()
    kept = client.post("/app/admin/rules/save", data={**form, "rule_id": rule_id, "name": "Bigger", "points": "250000"})
    assert kept.status_code == 303, visible(kept)[:600]
    switched_off = {k: v for k, v in form.items() if k != "active"}
    assert client.post("/app/admin/rules/save", data={
        **switched_off, "rule_id": rule_id, "name": "Bigger", "points": "250000"}).status_code == 303
    raised = client.post("/app/admin/rules/save", data={**form, "rule_id": rule_id, "points": "250001"})
    assert raised.status_code == 422 and "A whole number from 0 to 100000." in visible(raised)


def test_rule_editor_ties_each_message_to_its_field(client, launch):
    """Three guards share one message ("A whole number from 0 to 3650."): sent back, each message stands by its
    field, the field is marked invalid and describes itself with it, and the summary links to the field."""
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "experiment_count", "name": "", "param_count": "0", "points": "5",
        "dimension": "experimenting", "cooldown_days": "4000", "cap_count": "1", "cap_window_days": "7",
        "action": "save"})
    page = text(response)
    assert response.status_code == 422
    for field_id, message in (("r-name", "Give the rule a name."), ("r-cooldown", "A whole number from 0 to 3650."),
                              ("param_count", None)):
        field = re.search(rf'<input id="{field_id}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field, field
        described_by = re.search(r'aria-describedby="([^"]+)"', field).group(1)
        said = re.search(rf'<p class="field-error" id="{re.escape(described_by)}">([^<]+)</p>', page).group(1)
        assert message is None or said == message
        assert f'<a href="#{field_id}">' in page  # the summary takes the reader to the field
    for untouched in ("r-cap", "r-capwin", "r-points"):
        assert "aria-invalid" not in re.search(rf'<input id="{untouched}"[^>]*>', page).group(0)


def test_rule_editor_refuses_a_category_beyond_any_id(client, launch):
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "experiment_count", "name": "Big", "param_count": "1",
        "param_category_id": "99999999999999999999", "points": "5", "dimension": "experimenting", "action": "save"})
    assert response.status_code == 422
    assert "A whole number from 1 to 2147483647." in visible(response)
    assert "Big" not in visible(client.get("/app/admin/rules/", query_string={"lt": admin}))


def test_learners_and_managers_cannot_edit_rules(client, launch):
    for role, sub in (("learner", "l"), ("instructor", "m")):
        token = launch(role=role, sub=sub)
        assert client.get("/app/admin/rules/", query_string={"lt": token}).status_code == 403
        assert client.post("/app/admin/rules/save", data={"lt": token, "condition": "experiment_count",
                                                          "action": "save"}).status_code == 403


def _person(client, token, name="Test Person") -> str:
    page = text(client.get("/app/manage/recognise", query_string={"lt": token}))
    return options(page, "receiver")[name]


def test_kudos_within_budget_then_refused_beyond_it(client, launch):
    learner = launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    receiver = _person(client, manager)
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    ok = client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, "message": "Great prompt library",
                                                "points": "60", "dimension": "sharing", "submission_key": key})
    assert ok.status_code == 303
    again = client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, "message": "Again",
                                                   "points": "60", "dimension": "sharing", "submission_key": key})
    assert again.status_code == 303  # a double click is the same kudos, not a second one
    refused = client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, "message": "More",
                                                     "points": "41", "dimension": "sharing",
                                                     "submission_key": "another-key-123"})
    assert refused.status_code == 409
    assert "beyond your kudos budget for this month: 40 points left" in visible(refused)
    why = visible(client.get("/app/recognition", query_string={"lt": learner}))
    assert "Kudos from Test Person: “Great prompt library”" in why
    assert re.search(r'data-testid="dim-sharing">60<', text(client.get("/app/recognition", query_string={"lt": learner})))


def test_managers_cannot_give_kudos_to_themselves_and_learners_cannot_give_any(client, launch):
    launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    assert "Test Person" in options(page, "receiver")
    own_id = None
    from plugin.extensions import db  # the manager's own id, to try giving to themselves
    from plugin.tenancy.models import User
    with client.application.app_context():
        own_id = db.session.scalar(db.select(User.id).where(User.sub == "boss"))
    response = client.post("/app/manage/kudos", data={"lt": manager, "receiver": own_id, "message": "Me!",
                                                      "submission_key": "selfish-key-1"})
    assert response.status_code == 403
    learner = launch(sub="ada")
    assert client.post("/app/manage/kudos", data={"lt": learner, "receiver": own_id, "message": "Hi",
                                                  "submission_key": "learner-key-1"}).status_code == 403


def test_peer_help_counts_only_after_confirmation(client, launch):
    helper = launch(sub="helper", name="Helga Helper")
    helped = launch(sub="helped", name="Hal Helped")
    page = text(client.get("/app/help", query_string={"lt": helper}))
    colleague = options(page, "other")["Hal Helped"]
    log_experiment(client, helped, title="Grounding answers in the policy", outcome="worked", learned="")
    experiment = options(text(client.get("/app/help", query_string={"lt": helper})), "experiment")
    client.post("/app/help", data={"lt": helper, "other": colleague, "direction": "i_helped",
                                   "description": "Showed how to ground answers in our policy PDF",
                                   "experiment": experiment["Grounding answers in the policy (Hal Helped)"]})
    assert re.search(r'data-testid="points-total">0<', text(client.get("/app/recognition", query_string={"lt": helper})))
    pending = text(client.get("/app/help", query_string={"lt": helped}))
    assert "Helga Helper" in pending and "says they helped you" in pending
    help_id = re.search(r'/app/help/(\d+)/confirm', pending).group(1)
    confirmed = client.post(f"/app/help/{help_id}/confirm", data={"lt": helped})
    # the helped person is told their answer was taken (the page came back with the request gone, and no word)
    assert "Confirmed: thank you for recognising the help you got." in visible(client.get(confirmed.headers["Location"]))
    mine = text(client.get("/app/recognition", query_string={"lt": helper}))
    assert re.search(r'data-testid="dim-helping">10<', mine)
    assert "Help confirmed by Hal Helped" in mine
    again = client.post(f"/app/help/{help_id}/confirm", data={"lt": helped})
    assert again.status_code in (404, 409)


def test_an_answer_to_a_help_other_than_yes_or_no_changes_nothing(client, launch):
    """Only the page's two buttons answer: a mangled address (a proxy, a bookmarklet) is a 404, not a "No"."""
    helper = launch(sub="helper", name="Helga Helper")
    helped = launch(sub="helped", name="Hal Helped")
    colleague = options(text(client.get("/app/help", query_string={"lt": helper})), "other")["Hal Helped"]
    client.post("/app/help", data={"lt": helper, "other": colleague, "direction": "i_helped",
                                   "description": "Showed how to ground answers in our policy PDF"})
    help_id = re.search(r'/app/help/(\d+)/confirm', text(client.get("/app/help", query_string={"lt": helped}))).group(1)
    assert client.post(f"/app/help/{help_id}/confirmed", data={"lt": helped}).status_code == 404
    assert "says they helped you" in text(client.get("/app/help", query_string={"lt": helped}))  # still asked
    client.post(f"/app/help/{help_id}/confirm", data={"lt": helped})
    assert re.search(r'data-testid="dim-helping">10<', text(client.get("/app/recognition", query_string={"lt": helper})))


def test_the_help_form_sent_twice_records_the_help_once(client, launch):
    helper = launch(sub="helper", name="Helga Helper")
    helped = launch(sub="helped", name="Hal Helped")
    page = text(client.get("/app/help", query_string={"lt": helped}))
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    form = {"lt": helped, "other": options(page, "other")["Helga Helper"], "direction": "helped_me",
            "description": "Showed me prompt chaining", "submission_key": key}
    for _ in range(2):  # a double click, or the browser sending the form again
        assert client.post("/app/help", data=form).status_code == 303
    mine = text(client.get("/app/recognition", query_string={"lt": helper}))
    assert re.search(r'data-testid="dim-helping">10<', mine)
    fresh = text(client.get("/app/help", query_string={"lt": helped}))
    assert re.search(r'name="submission_key" value="([^"]+)"', fresh).group(1) != key  # the next form is new


def test_no_self_help(client, launch):
    me = launch(sub="me", name="Solo")
    launch(sub="other", name="Other")
    from plugin.extensions import db
    from plugin.tenancy.models import User
    with client.application.app_context():
        my_id = db.session.scalar(db.select(User.id).where(User.sub == "me"))
    response = client.post("/app/help", data={"lt": me, "other": my_id, "direction": "helped_me",
                                              "description": "I helped myself"})
    assert response.status_code == 422
    assert "Helping yourself does not count" in visible(response)


def test_editing_a_rule_whose_badge_was_switched_off_keeps_its_badge(client, launch):
    """A badge switched off on the badges page still names the rules that give it: the rules list says so, and the
    rule editor keeps it chosen, so saving the rule for another change does not silently drop its badge."""
    admin = launch(role="admin", sub="boss")
    badges_page = text(client.get("/app/admin/badges", query_string={"lt": admin}))
    badge_id = re.search(r'name="badge_id" value="(\d+)"[^>]*>(?:(?!</form>).)*?value="Fail Forward"', badges_page,
                         re.S).group(1)
    off = client.post("/app/admin/badges", data={"lt": admin, "badge_id": badge_id, "name": "Fail Forward",
                                                 "colour": "#e8590c", "description": "Shared a failure."})
    assert off.status_code == 303

    rules = text(client.get("/app/admin/rules/", query_string={"lt": admin}))
    row = re.search(r'href="/app/admin/rules/(\d+)\?lt=[^"]+">Fail Forward<.*?</tr>', rules, re.S)
    assert "Fail Forward (off)" in row.group(0)  # the list shows the badge the rule gives
    editor = text(client.get(f"/app/admin/rules/{row.group(1)}", query_string={"lt": admin}))
    select = re.search(r'<select id="r-badge" name="badge_id"[^>]*>(.*?)</select>', editor, re.S).group(1)
    assert re.findall(r'<option value="(\d*)" selected>', select) == [badge_id]
    # An inactive badge is not offered to rules that do not give it already.
    new = text(client.get("/app/admin/rules/new", query_string={"lt": admin}))
    assert f'value="{badge_id}"' not in re.search(r'name="badge_id"[^>]*>(.*?)</select>', new, re.S).group(1)


def test_an_erased_learner_is_not_offered_as_a_colleague_on_the_help_form(client, launch):
    me = launch(sub="me", name="Mia Me")
    launch(sub="gone", name="Gone Person")
    launch(sub="still", name="Still Here")
    admin = launch(role="admin", sub="admin")
    from plugin.extensions import db
    from plugin.tenancy.models import User
    with client.application.app_context():
        gone_id = db.session.scalar(db.select(User.id).where(User.sub == "gone"))
    assert client.post(f"/app/admin/privacy/erase/{gone_id}", data={"lt": admin, "confirm": "ERASE"}).status_code == 303
    colleagues = options(text(client.get("/app/help", query_string={"lt": me})), "other")
    assert "Still Here" in colleagues
    assert str(gone_id) not in colleagues.values() and not any(n.startswith("Erased learner") for n in colleagues)


def test_an_erased_learner_is_not_offered_on_the_recognise_page(client, launch):
    launch(sub="gone", name="Gone Person")
    launch(sub="still", name="Still Here")
    manager = launch(role="instructor", sub="boss")
    admin = launch(role="admin", sub="admin")
    from plugin.extensions import db
    from plugin.tenancy.models import User
    with client.application.app_context():
        gone_id = db.session.scalar(db.select(User.id).where(User.sub == "gone"))
    assert client.post(f"/app/admin/privacy/erase/{gone_id}", data={"lt": admin, "confirm": "ERASE"}).status_code == 303
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    people = options(page, "receiver")
    assert "Still Here" in people
    assert str(gone_id) not in people.values() and not any(n.startswith("Erased learner") for n in people)
    refused = client.post("/app/manage/kudos", data={"lt": manager, "receiver": gone_id, "message": "Thanks a lot",
                                                     "submission_key": "erased-key-123"})
    assert refused.status_code == 422


def _badge_form(page: str) -> str:
    return re.search(r'<form[^>]*action="[^"]*/app/manage/badges"[^>]*>(.*?)</form>', page, re.S).group(1)


def _kudos_form(page: str) -> str:
    return re.search(r'<form[^>]*action="[^"]*/app/manage/kudos"[^>]*>(.*?)</form>', page, re.S).group(1)


def test_a_refused_badge_award_keeps_what_the_manager_chose_and_typed_under_the_badge_form(client, launch):
    launch(sub="ada", name="Ada Lovelace")
    launch(sub="bo", name="Bo Brown")
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    receiver = options(_badge_form(page), "receiver")["Bo Brown"]
    badges = options(_badge_form(page), "badge")
    badge_id = list(badges.values())[-1]
    refused = client.post("/app/manage/badges", data={
        "lt": manager, "receiver": receiver, "badge": badge_id, "comment": "ok",
        "evidence_url": "ftp://files.example/prompt-library"})
    assert refused.status_code == 422
    form = _badge_form(text(refused))
    assert re.search(rf'<option value="{receiver}"\s+selected', form)
    assert re.search(rf'<option value="{badge_id}"\s+selected', form)
    assert ">ok</textarea>" in form
    assert 'value="ftp://files.example/prompt-library"' in form
    assert "3 to 2000 characters." in form
    no_one = text(client.post("/app/manage/badges", data={"lt": manager, "receiver": "", "badge": badge_id,
                                                          "comment": "Ran the clinic"}))
    assert "Choose one." in _badge_form(no_one)  # nobody chosen: asked to choose
    assert 'class="field-error"' not in _kudos_form(no_one)  # the kudos form was not the one refused
    # An evidence link that is no web address: the summary says so once, linked to the field ("Evidence must be a
    # web address." and "An http(s) URL." were listed as two problems, the second not naming the field).
    not_web = text(client.post("/app/manage/badges", data={"lt": manager, "receiver": receiver, "badge": badge_id,
                                                           "comment": "Ran the clinic", "evidence_url": "files/x"}))
    summary = re.search(r'<div class="card error-summary".*?</div>', not_web, re.S).group(0)
    assert re.findall(r"<li>(.*?)</li>", summary, re.S) == ['<a href="#b-evidence">Evidence must be a web address.</a>']
    assert "An http(s) URL." in _badge_form(not_web)  # the field's own words stay beside it


def test_refused_kudos_keep_the_chosen_value_and_dimension(client, launch):
    """Sent again after lowering the points, kudos whose dimension had silently gone back to the first one would
    put the points in the wrong dimension."""
    launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    value_id = list(options(_kudos_form(page), "value_tag").values())[-1]
    dimension = list(options(_kudos_form(page), "dimension").values())[-1]
    refused = client.post("/app/manage/kudos", data={
        "lt": manager, "receiver": _person(client, manager), "message": "Great prompt library", "points": "500",
        "value_tag": value_id, "dimension": dimension, "submission_key": "too-many-points-1"})
    assert refused.status_code == 409
    form = _kudos_form(text(refused))
    assert re.search(rf'<option value="{value_id}"\s+selected', form)
    assert re.search(rf'<option value="{dimension}"\s+selected', form)


def test_a_manager_revokes_a_badge_from_the_recognise_page(client, launch):
    """The rule replay page tells managers to revoke lost badges by hand, with a reason; the page offers it."""
    learner = launch(sub="ada", name="Ada Lovelace")
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    badge_id = list(options(_badge_form(page), "badge").values())[-1]
    assert client.post("/app/manage/badges", data={"lt": manager, "receiver": options(page, "receiver")["Ada Lovelace"],
                                                   "badge": badge_id, "comment": "Ran the clinic"}).status_code == 303
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    revoke = re.search(r'<form method="post" action="([^"]*/app/manage/badges/\d+/revoke)"', page)
    assert revoke, "no way to revoke the award on the page"
    assert client.post(revoke.group(1), data={"lt": manager, "reason": "Awarded to the wrong person"}).status_code == 303
    page = visible(client.get("/app/manage/recognise", query_string={"lt": manager}))
    assert "revoked: Awarded to the wrong person" in page
    assert "revoked: Awarded to the wrong person" in visible(client.get("/app/recognition", query_string={"lt": learner}))


def _summary_link(page: str, message: str) -> str | None:
    """Where the error summary's entry with this message leads (None: no link to an element of the page). WCAG
    3.3.1: a keyboard or screen reader user jumps from the summary to the field."""
    summary = re.search(r'<div class="card error-summary".*?</div>', page, re.S).group(0)
    found = re.search(r'<li>\s*<a href="#([^"]+)">' + re.escape(message) + r"</a>\s*</li>", summary)
    return found.group(1) if found and f'id="{found.group(1)}"' in page else None


def test_the_recognise_forms_error_summary_links_each_field_message_to_its_field(client, launch):
    launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    receiver = _person(client, manager)
    kudos = client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, "message": "Thanks",
                                                   "points": "-5", "dimension": "sharing", "submission_key": "k-1234"})
    assert kudos.status_code == 422
    assert _summary_link(text(kudos), "A whole number from 0 to 1000.") == "k-points"
    badge = client.post("/app/manage/badges", data={"lt": manager, "receiver": "999999", "badge": "1"})
    assert badge.status_code == 422
    # the general message stands for the one field it is about (its short words stay beside the field)
    assert _summary_link(text(badge), "Choose someone in this course.") == "b-receiver"
    assert _summary_link(text(badge), "Not in this course.") is None and "Not in this course." in text(badge)


@pytest.mark.parametrize("points", ["1001", "2147483648", "99999999999999999999"])
def test_kudos_points_past_the_most_one_kudos_carries_are_told_that_limit_and_kept(client, launch, points):
    """Points past 2^31 were told "a whole number from 0 to 2147483647" (the database type's range), where the JSON
    API refused anything past 1,000: both now say the same limit, and the number typed stays in the field."""
    launch(sub="ada")
    manager = launch(role="instructor", sub="boss")
    receiver = _person(client, manager)
    kudos = client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, "message": "Thanks a lot",
                                                   "points": points, "dimension": "sharing",
                                                   "submission_key": "k-12345678"})
    assert kudos.status_code == 422
    page = text(kudos)
    assert _summary_link(page, "A whole number from 0 to 1000.") == "k-points"
    assert "2147483647" not in page and f'value="{points}"' in page
    assert 'max="100"' in page  # the field's own limit: the budget left, below the most one kudos carries


def test_each_revoke_on_the_recognise_page_names_the_kudos_or_award_it_takes_back(client, launch):
    """The recent kudos and badges each had a disclosure named only "Revoke": tabbing down the list, a
    screen-reader user heard "Revoke, collapsed" twenty times without knowing which award each would take back."""
    launch(sub="ada", name="Ada Lovelace")
    launch(sub="bo", name="Bo Brown")
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    badge_id = list(options(_badge_form(page), "badge").values())[-1]
    for name in ("Ada Lovelace", "Bo Brown"):
        person = options(_badge_form(page), "receiver")[name]
        assert client.post("/app/manage/badges", data={"lt": manager, "receiver": person, "badge": badge_id,
                                                       "comment": "Ran the clinic"}).status_code == 303
        kudos_to = options(_kudos_form(page), "receiver")[name]
        assert client.post("/app/manage/kudos", data={"lt": manager, "receiver": kudos_to, "message": "Thanks a lot",
                                                      "points": "0", "dimension": "sharing",
                                                      "submission_key": f"key-{person}-kudos"}).status_code == 303
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    names = [re.sub(r"<[^>]+>", "", s).strip() for s in re.findall(r"<summary>(.*?)</summary>", page, re.S)]
    assert len(names) == 4
    assert len(set(names)) == 4, names  # four different names, not "Revoke" four times
    assert all(n.startswith("Revoke") for n in names) and any("Bo Brown" in n for n in names), names


def test_a_help_or_recognition_sent_with_nobody_chosen_asks_to_choose_instead_of_saying_not_in_this_course(
        client, launch):
    """Nobody chosen in the colleague or receiver list: the message under it asks to choose one; "Not in this
    course" (said of someone who left) would send the person looking for a colleague who is there."""
    learner = launch(sub="me", name="Solo")
    manager = launch(role="instructor", sub="boss", name="The Boss")
    sent = {"help": client.post("/app/help", data={"lt": learner, "other": "", "direction": "helped_me",
                                                   "description": "Showed me prompt chaining"}),
            "kudos": client.post("/app/manage/kudos", data={"lt": manager, "receiver": "", "message": "Well done",
                                                            "points": "0"}),
            "badge": client.post("/app/manage/badges", data={"lt": manager, "receiver": "", "reason": "Great"})}
    for form, response in sent.items():
        assert response.status_code == 422, form
        page = visible(response)
        assert "Choose one." in page and "Not in this course" not in page, form


def test_a_help_form_without_a_colleague_says_so_once_in_its_summary(client, launch):
    """The summary listed "Choose someone in this course." and "Choose one." for the same field."""
    helper = launch(sub="helper", name="Helga Helper")
    response = client.post("/app/help", data={"lt": helper, "other": "", "direction": "i_helped",
                                              "description": "Showed how to ground answers in our policy PDF"})
    assert response.status_code == 422
    page = text(response)
    summary = re.search(r'<div class="card error-summary".*?</div>', page, re.S).group(0)
    items = [re.sub(r"<[^>]+>", "", item).strip() for item in re.findall(r"<li>(.*?)</li>", summary, re.S)]
    assert items == ["Choose someone in this course."]
    assert re.search(r'<li><a href="#[^"]+">Choose someone in this course.</a></li>', summary)
    assert "Choose one." in page.replace(summary, "")  # the field's own words stay beside it


@pytest.mark.parametrize("what", ["kudos", "badge"])
def test_a_revocation_without_a_reason_comes_back_on_the_page_and_one_done_says_so(client, launch, what):
    """A reason under 3 characters: the Recognise page again (not an error page), the revocation's box open with
    what was typed, the error tied to its field and listed in the summary, and nothing revoked. With a reason: the
    page says it was revoked (a status message, which the page's script focuses)."""
    launch(sub="ada", name="Ada Lovelace")
    manager = launch(role="instructor", sub="boss")
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    receiver = options(page, "receiver")["Ada Lovelace"]
    if what == "kudos":
        key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
        sent = {"message": "Great prompt library", "points": "0", "dimension": "sharing", "submission_key": key}
        assert client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, **sent}).status_code == 303
    else:
        badge_id = list(options(_badge_form(page), "badge").values())[-1]
        assert client.post("/app/manage/badges", data={"lt": manager, "receiver": receiver, "badge": badge_id,
                                                       "comment": "Ran the clinic"}).status_code == 303
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    path = {"kudos": "kudos", "badge": "badges"}[what]
    action, box = re.search(rf'<form method="post" action="([^"]*/app/manage/{path}/\d+/revoke)"[^>]*>.*?'
                            r'<input id="(r[kb]-\d+)"', page, re.S).groups()
    refused = client.post(action, data={"lt": manager, "reason": "no"})
    assert refused.status_code == 422
    page = text(refused)
    assert "Recognise your people" in page and "Error 422" not in page
    form = re.search(rf'<details open>.*?action="{re.escape(action)}".*?</details>', page, re.S).group(0)
    field = re.search(rf'<input id="{box}"[^>]*>', form).group(0)
    assert 'value="no"' in field and 'aria-invalid="true"' in field and 'aria-describedby="reason-error"' in field
    assert re.search(r'<p class="field-error" id="reason-error">3 to 1000 characters.</p>', form)
    assert re.search(rf'class="card error-summary" role="alert".*?<a href="#{box}">Give a reason', page, re.S)
    assert "revoked:" not in visible(client.get("/app/manage/recognise", query_string={"lt": manager}))
    done = client.post(action, data={"lt": manager, "reason": "Meant for someone else"})
    assert done.status_code == 303
    page = text(client.get(done.headers["Location"]))
    said = {"kudos": "Kudos revoked.", "badge": "Badge revoked."}[what]
    assert re.search(rf'<p class="toast" role="status">{said}</p>', page)
    assert "revoked: Meant for someone else" in visible(client.get("/app/manage/recognise", query_string={"lt": manager}))


def test_the_dashboard_says_a_badge_went_with_its_revoked_kudos(client, launch, app):
    """A badge a kudos earned is taken back with the kudos: the learner's "Latest recognition" says it was revoked and
    why, as the recognition page does (it listed it as held, beside the points reversed)."""
    from sqlalchemy import select

    from plugin.badges.service import get_or_create_badge
    from plugin.extensions import db
    from plugin.rules.definitions import create_rule
    from plugin.tenancy.models import Organisation
    from tests.services.factories import NOW

    learner = launch(sub="ada", name="Ada Lovelace")
    manager = launch(role="instructor", sub="boss")
    with app.app_context():
        org = db.session.scalar(select(Organisation.id))
        medal = get_or_create_badge(org, "recognised", NOW, name="Recognised", criteria="Receive a kudos.")
        create_rule(org, {"name": "Recognised", "condition": "kudos_received", "params": {"count": 1}, "points": 5,
                          "dimension": "sharing", "badge_id": medal.id, "repeatable": False}, NOW)
        db.session.commit()
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    receiver = options(page, "receiver")["Ada Lovelace"]
    assert client.post("/app/manage/kudos", data={"lt": manager, "receiver": receiver, "message": "Great prompt library",
                                                  "points": "0", "dimension": "sharing",
                                                  "submission_key": key}).status_code == 303
    page = text(client.get("/app/manage/recognise", query_string={"lt": manager}))
    revoke = re.search(r'<form method="post" action="([^"]*/app/manage/kudos/\d+/revoke)"', page).group(1)
    assert client.post(revoke, data={"lt": manager, "reason": "Meant for someone else"}).status_code == 303

    dashboard = text(client.get("/app/", query_string={"lt": learner}))
    recent = re.search(r'data-testid="recent-recognition">(.*?)</ul>', dashboard, re.S).group(1)
    lines = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", li)).strip() for li in re.findall(r"<li>(.*?)</li>", recent, re.S)]
    badge_lines = [line for line in lines if line.startswith("Badge Recognised")]
    assert badge_lines and all("(revoked: Meant for someone else)" in line for line in badge_lines), lines


def test_an_empty_help_form_names_every_field_to_fix_at_once(client, launch):
    """Sent empty, the help form said only that a colleague was missing, and that the description was missing only on
    the next try: every field that needs attention is named in one go, each linked from the summary."""
    helper = launch(sub="helper", name="Helga Helper")
    response = client.post("/app/help", data={"lt": helper, "other": "", "direction": "helped_me", "description": ""})
    assert response.status_code == 422
    page = text(response)
    summary = re.search(r'<div class="card error-summary".*?</div>', page, re.S).group(0)
    assert re.findall(r'<li><a href="#([^"]+)">', summary) == ["f-other", "f-description"], summary
    assert "Some fields need attention." in summary
