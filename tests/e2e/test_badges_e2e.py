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
    expect(frame.get_by_role("heading", name="My badges")).to_be_visible()
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
