"""The admin's list of rules tells rules of one condition apart by what they ask."""
import re

from tests.support.platform import LTI, token_from
from tests.web.helpers import text


def _when(page: str, rule: str) -> str:
    row = re.search(rf"<tr><td><a [^>]*>{re.escape(rule)}</a></td><td>(.*?)</td>", page, re.S)
    assert row, rule
    return re.sub(r"\s+", " ", row.group(1)).strip()


def test_two_rules_of_one_condition_read_differently_by_what_they_ask(client, launch):
    """"Helper" (3 confirmed helps) and "Bridge Builder" (1, across teams) both read "Confirmed helps given"."""
    admin = launch(role="admin", sub="boss")
    page = text(client.get("/app/admin/rules/", query_string={"lt": admin}))
    assert _when(page, "Helper") == "Confirmed helps given: 3"
    assert _when(page, "Bridge Builder") == "Confirmed helps given: 1, across teams only"
    assert _when(page, "Streak") == "Active weeks in a row: 4"
    assert _when(page, "Helped a colleague") == "Each confirmed help given"


def test_the_rules_list_reads_in_turkish(client, platform):
    response, _flow = platform.launch(client, role="admin", sub="boss", overrides={
        LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr-TR"}})
    page = text(client.get("/app/admin/rules/", query_string={"lt": token_from(response)}))
    assert "yalnızca ekipler arası" in page
