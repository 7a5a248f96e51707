"""Read models behind boards and team pages, kept by the writers in the same transaction as the facts.

All of them are derived: `flask ledger rebuild-aggregates` recomputes them from the ledger, experiments,
confirmed helps and badge awards (the truth), and a test proves rebuilt equals maintained.

- board_score: one row per board and person. A board is "<scope>:<period>:<dimension>", scope c<course>,
  o<organisation> or x<challenge>; only people who count on boards (see aggregates.eligible) have rows.
- board_rank: how many people of a board hold each points value, and under "<board>#" how many hold a
  value in each block of keys.BLOCK values, so a rank is a sum over the blocks above a person plus the
  values above them in their block (bounded by the block width and block count, not by how far down the
  person is); the sum of a board's blocks is its size.
- member_stat: per course, person and period: experiments, minutes saved, per category/outcome, helps,
  badges. Everyone's, whether or not they count on boards.
- team_stat: per team and period: the same figures summed over the team's counted members, plus points per
  dimension, how many members experimented / helped, and the member count.
- team_standing: per team and period, the team's board row: its counted members, points, experimenters and
  helpers, and one order key per measure (the measure negated, so ascending is board order), so a team board
  is an index range read (top 20 + the viewer's teams) rather than figures gathered per team. A course's
  period board is dense or absent: every team with counted members has a row in it, or none has (nobody's
  figures moved in that period: every team stands at zero). The "all" rows always exist: they are the roster.
- board_setting / board_opt_out: how a course shows its boards, and who asked to be left unnamed.

Boards rank learners only: staff earn no points (Actor.can_earn), so they are never on learner boards.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db


class BoardScore(db.Model):
    __tablename__ = "board_score"
    # The rank index (below) is in board order: points high to low, then earliest account. Read forwards it
    # gives the top and the people below someone, backwards the people above them, and never sorts: with the
    # points ascending instead, every read that crossed a tie sorted the whole tie (on a 100,000-learner
    # board, thousands of people share the median's points).
    board: Mapped[str] = mapped_column(String(80), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


Index("ix_board_score_rank", BoardScore.board, BoardScore.points.desc(), BoardScore.user_id)


class BoardRank(db.Model):
    __tablename__ = "board_rank"
    board: Mapped[str] = mapped_column(String(80), primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    members: Mapped[int] = mapped_column(default=0)


class MemberStat(db.Model):
    __tablename__ = "member_stat"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class TeamStat(db.Model):
    __tablename__ = "team_stat"
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class TeamStanding(db.Model):
    __tablename__ = "team_standing"
    # A team board walks one of these forwards: best first, ties by name (then id, for a stable order). Members
    # ride along so counting the teams ranked above one (a team board leaves out teams under a size) reads the
    # index alone; the default board's (points per member) carries every figure, so its top reads no table rows.
    __table_args__ = (
        Index("ix_team_standing_points", "course_id", "period", "points_key", "name", "team_id", "members", "points",
              "experimenters", "helpers"),
        *[Index(f"ix_team_standing_{m}", "course_id", "period", f"{m}_key", "name", "team_id", "members")
          for m in ("experimenters", "helpers")])
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))  # the team's, kept here so ties order off the index
    members: Mapped[int] = mapped_column(default=0)  # counted members now (the same in every period)
    points: Mapped[int] = mapped_column(BigInteger, default=0)  # total points earned in the period
    experimenters: Mapped[int] = mapped_column(default=0)  # members with >= 1 experiment in the period
    helpers: Mapped[int] = mapped_column(default=0)  # members with >= 1 confirmed help in the period
    # -(figure / members), as the database divides doubles: ascending is board order
    points_key: Mapped[float] = mapped_column(Float, default=0.0)
    experimenters_key: Mapped[float] = mapped_column(Float, default=0.0)
    helpers_key: Mapped[float] = mapped_column(Float, default=0.0)


# Board modes a course's managers choose.
ON, TEAM_ONLY, OFF = "on", "team_only", "off"
MODES = (ON, TEAM_ONLY, OFF)


class BoardSetting(db.Model):
    __tablename__ = "board_setting"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default=ON, server_default=ON)
    # Relative mode: learners see only their neighbours, never the top of the board.
    relative: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BoardOptOut(db.Model):
    """A person who asked not to be named on a course's boards: they keep their rank, others see a pseudonym."""

    __tablename__ = "board_opt_out"
    __table_args__ = (Index("ix_board_opt_out_user", "user_id"),)  # boards look people up by person
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
