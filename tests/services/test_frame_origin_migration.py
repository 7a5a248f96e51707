"""Migration 0032: frame origins stored before hosts were checked never reach a header again."""
from sqlalchemy import insert, select

from plugin.extensions import db
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import FrameOrigin
from tests.services.factories import NOW, platform_spec
from tests.support.migrating import migrated_app, step_back_and_upgrade


def test_frame_origins_that_are_not_origins_are_deleted_and_international_hosts_rewritten(tmp_path):
    with migrated_app(tmp_path):
        # their issuers' origins: https://lms.example.edu, https://other.example.edu
        platform = tenancy.register_platform(platform_spec(), NOW).id
        other = tenancy.register_platform(platform_spec("https://other.example.edu", "c2", "Org B"), NOW).id
        db.session.commit()
        stored_before = [
            (platform, "https://lms.example.edu *; script-src *"),   # would add sources and a directive
            (platform, "https://evil.example\\.lms.example.edu"),
            (platform, "https://école.example.edu"),                 # written by the old origin_of
            (other, "https://xn--cole-9oa.example.edu"),
            (other, "https://école.example.edu"),                    # its IDNA form is there already
            (platform, "http://localhost:8080"),
        ]
        db.session.execute(insert(FrameOrigin), [{"platform_id": p, "origin": o, "source": "launch", "created_at": NOW}
                                                 for p, o in stored_before])
        step_back_and_upgrade("0031")
        rows = sorted(db.session.execute(select(FrameOrigin.platform_id, FrameOrigin.origin)).all())
        assert rows == sorted([
            (platform, "https://lms.example.edu"), (platform, "https://xn--cole-9oa.example.edu"),
            (platform, "http://localhost:8080"),
            (other, "https://other.example.edu"), (other, "https://xn--cole-9oa.example.edu")])
