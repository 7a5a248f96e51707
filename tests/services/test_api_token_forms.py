"""The admin page's token form sent twice at once (a double click reaching two app instances): one live token."""
from __future__ import annotations

from sqlalchemy import select

from plugin.core.actor import Role
from plugin.extensions import db
from plugin.tokens import service as tokens
from plugin.tokens.models import ApiToken
from tests.services.factories import NOW, make_actor, make_platform
from tests.services.test_concurrency import while_the_first_waits_to_commit


def test_the_same_form_sent_twice_at_once_leaves_one_live_token(appctx):
    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)

    def send():
        return lambda: tokens.issue(admin.organisation_id, "Power BI", ["ledger:read"], 30, NOW, actor=admin,
                                    submission_key="form-1").secret

    first, second = while_the_first_waits_to_commit(appctx, send(), send())
    db.session.expire_all()
    rows = list(db.session.scalars(select(ApiToken).where(ApiToken.organisation_id == admin.organisation_id)
                                   .order_by(ApiToken.id)))
    assert [(t.revoked_at is None, t.submission_key) for t in rows] == [(False, None), (True, "form-1")]
    assert tokens.authenticate(second, NOW).id == rows[1].id  # the secret the last response showed works
    assert rows[0].prefix == first[:tokens.PREFIX_CHARS]


def test_forms_with_other_keys_and_the_command_line_issue_tokens_of_their_own(appctx):
    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)
    for key in ("form-1", "form-2", None, None):
        tokens.issue(admin.organisation_id, "Power BI", ["ledger:read"], 30, NOW, actor=admin if key else None,
                     submission_key=key)
    live = db.session.scalars(select(ApiToken.submission_key).where(
        ApiToken.organisation_id == admin.organisation_id, ApiToken.revoked_at.is_(None))).all()
    assert sorted(live, key=str) == sorted(["form-1", "form-2", None, None], key=str)


def _live(organisation_id: int) -> list[str]:
    return sorted(t.prefix for t in db.session.scalars(select(ApiToken).where(
        ApiToken.organisation_id == organisation_id, ApiToken.revoked_at.is_(None))))


def test_a_form_sent_again_leaves_a_token_alone_once_used_changed_or_old(appctx):
    """Only a sending that stands for the first (the same values, within minutes, its token never used) replaces it:
    a reload of the page long after, a form changed before sending it again, or a token already set up in the BI
    tool keeps working, and the sending gets a token of its own."""
    from datetime import timedelta

    platform = make_platform()
    admin = make_actor(platform, "admin", role=Role.ADMIN)

    def send(name="Power BI", days=30, at=NOW):
        return tokens.issue(admin.organisation_id, name, ["ledger:read"], days, at, actor=admin, submission_key="k")

    first = send()
    tokens.authenticate(first.secret, NOW)
    tokens.count_request(first.token, NOW)  # used by the BI tool
    db.session.flush()
    used = send(at=NOW + timedelta(minutes=1))
    assert used.replaced is None
    renamed = send(name="Tableau", at=NOW + timedelta(minutes=2))
    longer = send(days=60, at=NOW + timedelta(minutes=3))
    assert renamed.replaced is None and longer.replaced is None
    assert _live(admin.organisation_id) == sorted(t.token.prefix for t in (first, used, renamed, longer))
    other_form = tokens.issue(admin.organisation_id, "Looker", ["ledger:read"], 30, NOW, actor=admin,
                              submission_key="k2")
    late = tokens.issue(admin.organisation_id, "Looker", ["ledger:read"], 30, NOW + tokens.REPLACE_WITHIN
                        + timedelta(seconds=1), actor=admin, submission_key="k2")
    assert late.replaced is None and other_form.token.prefix in _live(admin.organisation_id)
