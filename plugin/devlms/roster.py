"""The development LMS's own little world: its courses, people and their roles.

It plays the platform's part, so the tool learns about these people only through launches (and the
demo seeder, which provisions them through the same tenancy service a launch uses).
"""
from __future__ import annotations

from dataclasses import dataclass

ISSUER_PATH = "/dev/lms"
CLIENT_ID = "tinker-dev-client"
DEPLOYMENT_ID = "dev-deployment-1"
ORGANISATION = "Demo Organisation"

LMS_ROLES = {
    "learner": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
                "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"],
    "instructor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"],
    "ta": ["http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"],
    "admin": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
              "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
              "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"],
    "mentor": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"],
}


@dataclass(frozen=True)
class DevCourse:
    context_id: str
    title: str
    label: str


@dataclass(frozen=True)
class DevPerson:
    sub: str
    name: str
    email: str
    locale: str
    courses: dict[str, str]  # context_id -> LMS role key
    team: str | None = None


COURSES = [
    DevCourse("dev-course-101", "AI at Work: Foundations", "AIW-101"),
    DevCourse("dev-course-202", "AI for Learning & Development Teams", "AILD-202"),
]
TEAMS = ["People & Culture", "Sales Enablement", "Learning Design"]

_LEARNERS = [
    ("Ayşe Yılmaz", "tr"), ("James Carter", "en"), ("Mehmet Demir", "tr"), ("Olivia Bennett", "en"),
    ("Zeynep Kaya", "tr"), ("Daniel Hughes", "en"), ("Elif Şahin", "tr"), ("Sophie Turner", "en"),
    ("Can Öztürk", "tr"), ("Liam Walsh", "en"), ("Deniz Arslan", "tr"), ("Emma Collins", "en"),
    ("Burak Çelik", "tr"), ("Grace Murphy", "en"), ("Selin Aydın", "tr"), ("Noah Price", "en"),
    ("Emre Koç", "tr"), ("Chloe Harris", "en"), ("Gizem Yıldız", "tr"), ("Ethan Brooks", "en"),
    ("Merve Aksoy", "tr"), ("Isla Morgan", "en"), ("Kerem Polat", "tr"), ("Ava Richardson", "en"),
    ("Ece Güneş", "tr"), ("Oscar Reid", "en"), ("Hakan Erdem", "tr"), ("Mia Foster", "en"),
    ("Naz Kurt", "tr"), ("Harry Dawson", "en"),
]


def _email(name: str) -> str:
    ascii_name = name.lower().translate(str.maketrans("çğıöşüı", "cgiosui")).replace(" ", ".")
    return f"{ascii_name}@demo.example"


def _people() -> list[DevPerson]:
    people = []
    for i, (name, locale) in enumerate(_LEARNERS, start=1):
        courses = {}
        if i <= 20:
            courses["dev-course-101"] = "learner"
        if i >= 17:
            courses["dev-course-202"] = "learner"
        team = TEAMS[(i - 1) % 3] if i <= 20 else None
        people.append(DevPerson(f"dev-learner-{i}", name, _email(name), locale, courses, team))
    people += [
        DevPerson("dev-manager-1", "Fatma Korkmaz", _email("Fatma Korkmaz"), "tr", {"dev-course-101": "instructor"}),
        DevPerson("dev-manager-2", "Thomas Wright", _email("Thomas Wright"), "en", {"dev-course-202": "instructor"}),
        DevPerson("dev-manager-3", "Seda Özkan", _email("Seda Özkan"), "tr",
                  {"dev-course-101": "ta", "dev-course-202": "instructor"}),
        DevPerson("dev-admin-1", "Alex Morgan", _email("Alex Morgan"), "en",
                  {"dev-course-101": "admin", "dev-course-202": "admin"}),
        DevPerson("dev-mentor-1", "Pat Observer", _email("Pat Observer"), "en", {"dev-course-101": "mentor"}),
    ]
    return people


PEOPLE = _people()
PEOPLE_BY_SUB = {p.sub: p for p in PEOPLE}
COURSES_BY_ID = {c.context_id: c for c in COURSES}
