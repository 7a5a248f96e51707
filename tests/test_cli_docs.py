"""Every operator command Tinker adds to `flask` is listed in the README's command table."""
import re
from pathlib import Path

import click

OURS = ("api", "badges", "demo", "ledger", "lti", "outbox", "privacy")


def _commands(group: click.Group, path: tuple[str, ...]) -> set[tuple[str, ...]]:
    found = set()
    for name, command in group.commands.items():
        found |= _commands(command, (*path, name)) if isinstance(command, click.Group) else {(*path, name)}
    return found


def test_every_operator_command_is_in_the_readme_table(app):
    """A row's first cell names its group (`flask lti ...`) and the command (also as `/ list` or `add/remove`)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    cells = [line.split(" | ")[0] for line in readme.splitlines() if line.startswith("| `flask ")]
    commands = set()
    for name in OURS:
        commands |= _commands(app.cli.commands[name], (name,))

    def listed(path: tuple[str, ...]) -> bool:
        return any(f"`flask {path[0]} " in cell and re.search(rf"(?<![\w-]){re.escape(path[-1])}(?![\w-])", cell)
                   for cell in cells)

    assert sorted(" ".join(path) for path in commands if not listed(path)) == []
