"""Mission data sets are checked on the way in: a file that cannot be read is refused with a message, never a 500."""
import pytest

from plugin.challenges.datasets import check_dataset
from plugin.errors import InvalidInput


def test_valid_json_is_kept_with_its_content_type():
    kept = check_dataset("answers.json", b'[{"answer": "fine", "score": 3}]')
    assert (kept.name, kept.content_type) == ("answers.json", "application/json")


@pytest.mark.parametrize("content", [b'{"answer": ', b"[" * 100_000 + b"]" * 100_000],
                         ids=["truncated", "nested-beyond-the-parser"])
def test_json_that_cannot_be_read_is_refused_with_a_message(content):
    with pytest.raises(InvalidInput) as refused:
        check_dataset("answers.json", content)
    assert refused.value.errors == {"dataset": ["The JSON file could not be read: check that it is valid JSON."]}
