"""The AI vision: versions, acknowledgements, pillar tags, approved tools and private coaching notes."""
import pytest
from sqlalchemy import select

from plugin.catalog.service import items
from plugin.core.actor import Role
from plugin.errors import Conflict, Forbidden, InvalidInput
from plugin.extensions import db
from plugin.ledger.service import balances
from plugin.vision import service as vision
from plugin.vision.models import ExperimentPillar
from plugin.vision.render import render_markdown
from plugin.vision.schemas import VisionIn
from tests.services.factories import NOW, later, log, make_actor, make_platform


@pytest.fixture
def platform(appctx):
    return make_platform()


@pytest.fixture
def admin(platform):
    return make_actor(platform, "admin-1", Role.ADMIN)


@pytest.fixture
def learner(platform):
    return make_actor(platform, "learner-1")


def vision_data(org_id, pillars=("Customers first", "Time for people", "Safe by default"), approve=("ChatGPT",),
                **overrides):
    tools = {t.name: t.id for t in items(org_id, "tools")}
    data = {"statement": "We try AI to give people time back for the work only people can do.",
            "guidance": "Never paste customer names.", "pillars": [{"name": n} for n in pillars],
            "tools": [{"ai_tool_id": tools[name], "approved": True, "data_note": f"{name}: public data only"}
                      for name in approve]}
    data.update(overrides)
    return VisionIn().load(data)


def test_only_admins_write_the_vision(admin, learner):
    with pytest.raises(Forbidden):
        vision.save_vision(learner, vision_data(learner.organisation_id), NOW)
    assert vision.save_vision(admin, vision_data(admin.organisation_id), NOW).version == 1


def test_three_to_six_distinct_pillars(admin):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError):
        vision_data(admin.organisation_id, pillars=("One", "Two"))
    with pytest.raises(ValidationError):
        vision_data(admin.organisation_id, pillars=tuple(f"P{i}" for i in range(7)))
    with pytest.raises(InvalidInput):
        vision.save_vision(admin, vision_data(admin.organisation_id, pillars=("A", "a", "B")), NOW)


def test_a_pillar_named_with_control_characters_only_has_no_name(admin):
    with pytest.raises(InvalidInput, match="Give each pillar a name"):
        vision.save_vision(admin, vision_data(admin.organisation_id, pillars=("\x01\x02", "Two", "Three")), NOW)


@pytest.mark.parametrize("pair", [("İletişim", "iletişim"), ("ÖZEN", "özen"), ("Işık", "IŞIK")])
def test_pillars_named_alike_but_for_turkish_capitals_are_one_name(admin, pair):
    """Learners could not tell "İletişim" from "iletişim" apart in the pillar list: refused as "A" and "a" are."""
    with pytest.raises(InvalidInput, match="Each pillar needs its own name"):
        vision.save_vision(admin, vision_data(admin.organisation_id, pillars=(*pair, "Güven")), NOW)


def test_version_goes_up_only_when_the_text_changes_and_learners_are_asked_again(admin, learner):
    assert not vision.needs_acknowledgement(learner)  # nothing to read yet
    vision.save_vision(admin, vision_data(admin.organisation_id), NOW)
    assert vision.needs_acknowledgement(learner)
    vision.acknowledge(learner, 1, later(1))
    assert not vision.needs_acknowledgement(learner)
    assert vision.save_vision(admin, vision_data(admin.organisation_id), later(2)).version == 1  # same text
    assert not vision.needs_acknowledgement(learner)
    assert vision.save_vision(admin, vision_data(admin.organisation_id, guidance="New rules."), later(3)).version == 2
    assert vision.needs_acknowledgement(learner) and vision.acknowledged_version(learner) == 1
    with pytest.raises(Conflict):  # acknowledging the version on an old page does not count for the new one
        vision.acknowledge(learner, 1, later(4))
    vision.acknowledge(learner, 2, later(5))
    assert vision.acknowledged_version(learner) == 2


def test_renaming_and_removing_pillars_keeps_past_tags(admin, learner):
    vision.save_vision(admin, vision_data(admin.organisation_id), NOW)
    first = vision.pillars(admin.organisation_id)
    logged = log(learner, pillars=[first[0].id, first[2].id])
    rows = [{"id": first[1].id, "name": "Time back"}, {"id": first[0].id, "name": "Customers first"},
            {"name": "Learning together"}]
    vision.save_vision(admin, vision_data(admin.organisation_id, pillars=[r["name"] for r in rows]) | {"pillars": rows},
                       later(1))
    now_active = vision.pillars(admin.organisation_id)
    assert [p.name for p in now_active] == ["Time back", "Customers first", "Learning together"]
    assert now_active[1].id == first[0].id
    tagged = set(db.session.scalars(select(ExperimentPillar.pillar_id).where(
        ExperimentPillar.experiment_id == logged.experiment.id)))
    assert tagged == {first[0].id, first[2].id}  # the retired pillar's tag stays on the old entry
    with pytest.raises(InvalidInput):  # a retired pillar cannot be chosen for new entries
        log(learner, pillars=[first[2].id], now=later(2))


def test_pillars_of_another_organisation_are_refused(admin, learner):
    other = make_platform(issuer="https://other.example", organisation="Org B")
    other_admin = make_actor(other, "other-admin", Role.ADMIN)
    vision.save_vision(other_admin, vision_data(other_admin.organisation_id), NOW)
    foreign = vision.pillars(other_admin.organisation_id)[0]
    with pytest.raises(InvalidInput):
        log(learner, pillars=[foreign.id])


def test_unapproved_tool_gets_a_private_coaching_note_and_no_penalty(admin, learner):
    vision.save_vision(admin, vision_data(admin.organisation_id, approve=("ChatGPT",)), NOW)
    tools = {t.name: t.id for t in items(admin.organisation_id, "tools")}
    approved = log(learner, ai_tool=str(tools["ChatGPT"]))
    other = log(learner, later(5), ai_tool="other", ai_tool_other="Some browser plugin")
    unapproved = log(learner, later(10), ai_tool=str(tools["Gemini"]))
    assert approved.experiment.coaching_reasons == []
    assert other.experiment.coaching_reasons == ["unapproved_tool"]
    assert unapproved.experiment.coaching_reasons == ["unapproved_tool"]
    assert unapproved.experiment.visibility == "course"  # no public flag, not hidden
    assert balances(learner.course_id, learner.user_id)["total"] >= 30  # each earned like the approved one


def test_sensitive_data_is_private_and_coached(admin, learner):
    logged = log(learner, sensitive_data="yes")
    assert logged.experiment.visibility == "private" and logged.experiment.coaching_reasons == ["sensitive_data"]


def test_without_an_approved_list_every_catalogue_tool_counts_as_approved(learner):
    assert log(learner).experiment.coaching_reasons == []
    assert log(learner, later(5), ai_tool="other", ai_tool_other="X").experiment.coaching_reasons == ["unapproved_tool"]


def test_confidence_ratings_are_stored(learner):
    from marshmallow import ValidationError

    e = log(learner, confidence_before=2, confidence_after=4).experiment
    assert (e.confidence_before, e.confidence_after) == (2, 4)
    assert log(learner, later(5)).experiment.confidence_before is None
    with pytest.raises(ValidationError):
        log(learner, later(6), confidence_before=6)


def test_markdown_is_sanitised():
    html = str(render_markdown("# Title\n\n**bold** [x](javascript:alert(1)) <script>alert(1)</script>"
                               " <img src=x onerror=alert(1)> [ok](https://example.com)"))
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html and "<img" not in html
    assert "<h2>Title</h2>" in html and "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html and "noopener" in html


def test_admins_saving_different_texts_at_once_each_make_a_version(appctx, admin):
    """Two admins (or two tabs) saving the vision at once: each text learners read is a version of its own, so
    whichever text stands, learners are asked to acknowledge it; none is lost under the other's number (PG race)."""
    from plugin.vision.models import Vision
    from tests.services.test_concurrency import THREADS, race

    org = admin.organisation_id
    texts = [vision_data(org, statement=f"Version {i}: we try AI to give people time back for their work.")
             for i in range(THREADS)]

    def work(i):
        vision.save_vision(admin, texts[i], NOW)
        db.session.commit()

    race(appctx, work)
    saved = db.session.get(Vision, org)
    assert saved.version == THREADS


def test_when_every_approved_tool_is_taken_off_the_list_the_listed_tools_count_as_approved_again(admin, learner):
    """The edit page lists the catalogue's tools and says "until you approve any, all listed tools count as
    approved": once the only approved tool is turned off in Lists, no listed tool is ticked there, and learners
    are not told that every tool they can pick is unapproved."""
    from plugin.catalog.service import set_active

    vision.save_vision(admin, vision_data(admin.organisation_id, approve=("ChatGPT",)), NOW)
    tools = {t.name: t.id for t in items(admin.organisation_id, "tools")}
    set_active(admin, "tools", tools["ChatGPT"], False)
    db.session.commit()
    assert log(learner, ai_tool=str(tools["Gemini"])).experiment.coaching_reasons == []
    assert vision.tool_approved(admin.organisation_id, tools["Gemini"])
    shown = {entry.tool.name for entry in vision.current(admin.organisation_id).approved_tools}
    assert "Gemini" in shown and "ChatGPT" not in shown
    # Approving a listed tool makes the list an approved list again.
    vision.save_vision(admin, vision_data(admin.organisation_id, approve=("Claude",)), later(1))
    assert log(learner, later(5), ai_tool=str(tools["Gemini"])).experiment.coaching_reasons == ["unapproved_tool"]
