"""Frame origins stored before hosts were checked: a row whose host is not a DNS name or an IPv6 literal (spaces,
"*", ";", a backslash: it could add sources or directives to the Content-Security-Policy header) is deleted, and
one with a non-ASCII host is rewritten in its IDNA form (as tenancy.origin_of now writes it, and browsers send
it), or deleted when that form is stored already. Nothing to undo on downgrade.

Revision ID: 0032
Revises: 0031
"""
import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

# The form a frame origin must have (frozen here: later changes to the application's check do not rewrite history).
_ORIGIN = re.compile(r"https?://(?:[a-z0-9_](?:[a-z0-9_.-]{0,251}[a-z0-9_])?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?")


def _idna_form(origin: str) -> str | None:
    """The origin with its host in IDNA form, when that alone makes it well formed."""
    try:
        parts = urlsplit(origin)
        host = parts.hostname.encode("idna").decode("ascii") if parts.hostname else None
        port = parts.port
    except (ValueError, UnicodeError):
        return None
    if host is None or parts.path or parts.query or parts.fragment or parts.username:
        return None
    rebuilt = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    return rebuilt if _ORIGIN.fullmatch(rebuilt) else None


def upgrade():
    bind = op.get_bind()
    table = sa.table("frame_origin", sa.column("id", sa.Integer), sa.column("platform_id", sa.Integer),
                     sa.column("origin", sa.String))
    rows = bind.execute(sa.select(table.c.id, table.c.platform_id, table.c.origin)).all()
    kept = {(r.platform_id, r.origin) for r in rows if _ORIGIN.fullmatch(r.origin)}
    for row in rows:
        if _ORIGIN.fullmatch(row.origin):
            continue
        fixed = _idna_form(row.origin)
        if fixed is not None and (row.platform_id, fixed) not in kept:
            bind.execute(table.update().where(table.c.id == row.id).values(origin=fixed))
            kept.add((row.platform_id, fixed))
        else:
            bind.execute(table.delete().where(table.c.id == row.id))


def downgrade():
    pass
