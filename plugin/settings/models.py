"""Per-organisation limits that keep recognition fair (anti-gaming, budgets, caps), editable by admins."""
from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.extensions import db


class OrganisationSettings(db.Model):
    __tablename__ = "organisation_settings"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    # Experiments: points from experiment rules per person per day, at most.
    daily_points_cap: Mapped[int] = mapped_column(default=60)
    # The same tool on the same kind of task earns full points this many times in 30 days, then less.
    repeat_free_count: Mapped[int] = mapped_column(default=3)
    repeat_factor_percent: Mapped[int] = mapped_column(default=50)
    # Near-duplicate text (word-shingle Jaccard) against the author's last 90 days: logged, not awarded again.
    duplicate_threshold_percent: Mapped[int] = mapped_column(default=80)
    # A reflection shorter than this earns no points when the experiment did not work.
    min_reflection_chars: Mapped[int] = mapped_column(default=20)
    # Kudos points a manager may give per calendar month in a course.
    kudos_monthly_budget: Mapped[int] = mapped_column(default=100)
    # Confirmed helps between the same two people that earn points per window.
    help_pair_cap: Mapped[int] = mapped_column(default=3)
    help_pair_window_days: Mapped[int] = mapped_column(default=30)
    # IANA time zone that decides the organisation's days, ISO weeks and months (boards, caps, budgets).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Days after which experiment free text is blanked (plugin/privacy/retention.py); None keeps it.
    experiment_text_retention_days: Mapped[int | None] = mapped_column()
