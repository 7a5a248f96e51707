"""The help network: teams as nodes, confirmed help between them as weighted edges, drawn as a server-side
SVG by plugin.web.insights_charts, with a table of the same numbers. Only teams and edges that cover at least
the minimum group size of people are shown."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Edge:
    a: int
    b: int
    a_name: str
    b_name: str
    helps: int
    people: int


@dataclass
class HelpNetwork:
    nodes: dict[int, str] = field(default_factory=dict)  # shown teams
    within: dict[int, int] = field(default_factory=dict)  # helps inside each shown team
    edges: list[Edge] = field(default_factory=list)        # shown edges
    hidden_edges: int = 0
    hidden_teams: int = 0


def help_network(scope, helps) -> HelpNetwork:
    teams_of: dict[int, set[int]] = defaultdict(set)
    for team_id, members in scope.team_members.items():
        for user_id in members:
            teams_of[user_id].add(team_id)
    names = {t.id: t.name for t in scope.teams}
    shown = {t: names[t] for t, members in scope.team_members.items() if len(members) >= scope.k}
    within_people: dict[int, set[int]] = defaultdict(set)
    within: dict[int, int] = defaultdict(int)
    edge_helps: dict[tuple[int, int], int] = defaultdict(int)
    edge_people: dict[tuple[int, int], set[int]] = defaultdict(set)
    for h in helps:
        mine, theirs = teams_of.get(h.helper_id, set()), teams_of.get(h.helped_id, set())
        shared = mine & theirs
        if shared:
            team = min(shared)
            within[team] += 1
            within_people[team] |= {h.helper_id, h.helped_id}
            continue
        for a in mine:
            for b in theirs:
                pair = (min(a, b), max(a, b))
                edge_helps[pair] += 1
                edge_people[pair] |= {h.helper_id, h.helped_id}
    net = HelpNetwork(nodes=shown, hidden_teams=len(names) - len(shown))
    net.within = {t: n for t, n in within.items() if t in shown and len(within_people[t]) >= scope.k}
    for (a, b), n in sorted(edge_helps.items(), key=lambda kv: (-kv[1], kv[0])):
        if a in shown and b in shown and len(edge_people[(a, b)]) >= scope.k:
            net.edges.append(Edge(a, b, shown[a], shown[b], n, len(edge_people[(a, b)])))
        else:
            net.hidden_edges += 1
    return net
