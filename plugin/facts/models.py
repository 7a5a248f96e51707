"""Tallies of a person's experiments, kept by the writers in the same transaction as the experiment, so the
rules' questions about a person's history read a few rows instead of every experiment they logged.

- experiment_tally: per course, person and bucket, how many of their experiments (near-duplicates left out, as
  the rules leave them out) fall in it. Buckets (facts.tallies.buckets):
  "n" all; "shared" visible beyond the author; "tool:<id|other>"; "cat:<id>"; "day:<YYYY-MM-DD>" (UTC);
  "tc:<tool>:<category>:<YYYY-MM-DD>" (a tool on a kind of task, per UTC day: the diminishing-returns window);
  "fsr:<reflection length, 5 digits>" (failed and shared, by how long the reflection is: fail-forward asks for
  those at or above the organisation's minimum, which an admin may change).

Derived like the boards' read models: `flask ledger rebuild-aggregates` recomputes the tallies from the
experiments, and `verify-aggregates` compares.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.extensions import db


class ExperimentTally(db.Model):
    __tablename__ = "experiment_tally"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
