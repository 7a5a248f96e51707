"""Who is acting, where, and in which role: decided once at launch, then passed to every service."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(str, enum.Enum):
    LEARNER = "learner"
    MANAGER = "manager"
    ADMIN = "admin"
    OBSERVER = "observer"  # LTI Mentor (Canvas observer): sees learner views, earns nothing

    @property
    def is_staff(self) -> bool:
        return self in (Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class Actor:
    user_id: int
    course_id: int
    organisation_id: int
    platform_id: int
    role: Role
    display_name: str = ""

    @property
    def can_manage(self) -> bool:
        return self.role.is_staff

    @property
    def can_administer(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def can_earn(self) -> bool:
        return self.role is Role.LEARNER

    @property
    def can_contribute(self) -> bool:
        """Observers read; everyone else may log experiments (staff too: leaders go first)."""
        return self.role is not Role.OBSERVER
