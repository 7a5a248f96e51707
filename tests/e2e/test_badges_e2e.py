"""Badges in a real browser: a demo learner opens My badges inside the LMS frame, downloads the baked PNG,
and anyone can open the share link without logging in and read who, what, when and whether it is valid."""
from playwright.sync_api import expect
from sqlalchemy import select

from plugin.badges.baking import unbake_png
from plugin.badges.models import BadgeAward, BadgeClass
from plugin.extensions import db
from plugin.tenancy.models import User
from tests.e2e.test_learner_journey import launch_from_dev_lms


def test_learner_shares_a_badge_and_a_stranger_verifies_it(live_server, page, browser, artifacts):
    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    with live_server.app_context():
        award, badge, user = db.session.execute(
            select(BadgeAward, BadgeClass, User).join(BadgeClass, BadgeClass.id == BadgeAward.badge_id)
            .join(User, User.id == BadgeAward.user_id).where(BadgeAward.idempotency_key.like("demo:badge:%"))
            .order_by(BadgeAward.id)).first()
        badge_name, slug, person, public_id = badge.name, badge.slug, user.name, award.public_id

    frame = launch_from_dev_lms(page, live_server.base_url, person, language="en")
    frame.get_by_role("link", name="My badges").click()
    expect(frame.get_by_role("heading", name="My badges", level=1)).to_be_visible()  # the page, not the dashboard's card
    card = frame.get_by_test_id(f"badge-{slug}")
    expect(card).to_contain_text(badge_name)
    share = card.get_by_test_id("share-link").input_value()
    assert share == f"{live_server.base_url}/ob/v2/assertions/{public_id}"
    with page.expect_download() as download:
        card.get_by_role("link", name="Download baked PNG").click()
    baked = open(download.value.path(), "rb").read()
    assert public_id in unbake_png(baked)
    page.screenshot(path=str(artifacts / "badges-mine.png"))

    stranger = browser.new_context().new_page()  # no LMS, no cookies
    stranger.goto(share)
    expect(stranger.get_by_test_id("verification-status")).to_have_text("Valid badge")
    expect(stranger.get_by_test_id("badge-name")).to_have_text(badge_name)
    expect(stranger.get_by_test_id("issuer")).to_contain_text("Tinker Demo Academy")
    stranger.screenshot(path=str(artifacts / "badges-verify.png"))
    stranger.context.close()


def test_the_public_verification_page_reflows_on_a_320px_phone(live_server, browser, artifacts):
    """WCAG 1.4.10: at 320 CSS px nothing scrolls sideways, with an issuer's real-world e-mail address (one long
    word) on the page the recipient's employer opens from the share link."""
    from plugin.badges.models import Issuer
    from plugin.core.clock import utcnow
    from plugin.tenancy.models import Organisation

    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    with live_server.app_context():
        public_id, organisation_id = db.session.execute(
            select(BadgeAward.public_id, BadgeAward.organisation_id)
            .where(BadgeAward.idempotency_key.like("demo:badge:%")).order_by(BadgeAward.id)).first()
        issuer = db.session.get(Issuer, organisation_id) or Issuer(
            organisation_id=organisation_id, name=db.session.get(Organisation, organisation_id).name,
            url=live_server.base_url, description="")
        issuer.email, issuer.updated_at = "rozetler@uzaktanegitim.universite.edu.tr", utcnow()
        db.session.add(issuer)
        db.session.commit()

    context = browser.new_context(viewport={"width": 320, "height": 640}, locale="tr-TR")
    try:
        phone = context.new_page()
        phone.goto(f"{live_server.base_url}/ob/v2/assertions/{public_id}")
        expect(phone.get_by_test_id("issuer")).to_contain_text("rozetler@")
        phone.screenshot(path=str(artifacts / "badges-verify-320.png"), full_page=True)
        wider = phone.evaluate("() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")
        assert wider == 0, f"the verification page scrolls {wider} CSS px sideways at 320 px"
    finally:
        context.close()
