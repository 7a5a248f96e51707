"""Differencing: a figure shown for one group, set beside the same figure for another group the same reader can
choose (a course and a team of it, two teams, an organisation and one of its courses), must not single out fewer
than k people. privacy.protect guards the rows of one table; this guards the groups a reader can pick.

The model: a figure (minutes, experiments, ratings, active members...) is a sum over the people it covers, so what
a reader can compute from the groups they see is every sum and difference of those groups. People who belong to the
same shown groups form an atom; the sums a reader can reach are the span of the groups' 0/1 vectors over the atoms.
A reachable set of fewer than k people is a leak: one small atom, several together, or one shown group minus
another that it contains. While there is one, a group behind it is withheld (never the top: the manager's course,
the admin's organisation): of a few, the one whose removal leaves the fewest leaks, smaller first; of many, the
smallest behind each leak at once.

People are counted as (user, course) units, so a person in two courses of an organisation is two units, and an atom
is small when it holds fewer than k distinct users. Arithmetic is modulo a 61-bit prime, which for 0/1 matrices of
this size gives the rational answer but for a negligible chance (and a spurious leak would only withhold more).
Everything is visited in sorted order, so every view of one reader makes the same choices.

Periods nest and cross too (a quarter minus its months): plugin/insights/time_slices.py. Not covered: a group's
membership changing between two readings (the audit log records team changes); non-linear figures (a median)
compared across groups are treated like sums (docs/privacy.md lists what else is not).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property

Key = tuple  # ("top",), ("course", id) or ("team", id)
Unit = tuple  # (user_id, course_id), or finer (user_id, course_id, category, tool): people are its first item
TOP: Key = ("top",)
_P = (1 << 61) - 1
_DIMENSIONS = 64  # beyond this many independent small combinations in one part, every group in it counts as a leak
_TRIALS = 4  # groups tried one by one before withholding one
_STEPS = 20_000  # sets of rows tried in one part before every group in it counts as giving someone away


class Family:
    """The groups one reader can choose between, as their member units (`top` holds every unit; keys of one shape)."""

    def __init__(self, groups: dict[Key, frozenset[Unit]], top: Key = TOP, first=None):
        self.groups = groups
        self.top = top
        self.first = first or (lambda key: 0)  # which groups go first when one must (lower first)
        self._shown: dict[tuple, frozenset[Key]] = {}  # one report asks about one figure many times

    @cached_property
    def signature(self) -> dict[Unit, frozenset[Key]]:
        out: dict[Unit, set[Key]] = defaultdict(set)
        for key, units in self.groups.items():
            for unit in units:
                out[unit].add(key)
        return {unit: frozenset(keys) for unit, keys in out.items()}

    def shown(self, units: Iterable[Unit], k: int, teams_only: bool = False) -> frozenset[Key]:
        """The groups whose figure over `units` (the people a figure covers, in the top group) may be shown.
        `teams_only`: a figure shown per team and for nothing larger (pillar coverage), so the top and the courses
        are not beside it and any team may go."""
        units = frozenset(units)
        if (units, k, teams_only) not in self._shown:
            self._shown[units, k, teams_only] = self._compute(units, k, teams_only)
        return self._shown[units, k, teams_only]

    def _compute(self, units: frozenset[Unit], k: int, teams_only: bool) -> frozenset[Key]:
        by_signature: dict[frozenset[Key], set[Unit]] = defaultdict(set)
        for unit in sorted(units):
            if unit in self.signature:
                by_signature[self.signature[unit]].add(unit)
        users: dict[Key, set[int]] = defaultdict(set)
        for signature, members in by_signature.items():
            for key in signature:
                users[key] |= {unit[0] for unit in members}
        visible = frozenset(key for key in self.groups if len(users[key]) >= k
                            and (key[0] == "team" or not teams_only))
        # A group nobody in the figure belongs to shows 0: it adds nothing to what sums and differences reach (that a
        # 0 says the same of every member is the limit of any group figure: docs/privacy.md).
        empty = frozenset(key for key in self.groups if not users[key])
        if len(users[self.top]) < k:
            return visible | empty  # every other group is part of the top: none reaches k either
        leaks = _leaks(by_signature, visible, k)
        while leaks:
            involved = {key for leak in leaks for key in leak} - {self.top}
            if not involved:
                break  # cannot happen: the top alone is one atom
            if len(involved) <= _TRIALS:  # try each: withhold the one that leaves the fewest leaks
                drops = {min(involved, key=lambda key: (
                    self.first(key), len(_leaks(by_signature, visible - {key}, k)), len(users[key]), key))}
            else:  # many (a large organisation's groups): the smallest group behind each leak, all at once
                drops = set()
                for leak in leaks:
                    if not leak & drops and (behind := leak - {self.top}):
                        drops.add(min(behind, key=lambda key: (self.first(key), len(users[key]), key)))
            visible = visible - drops
            leaks = _leaks(by_signature, visible, k)
        return visible | empty


def _leaks(by_signature: dict[frozenset[Key], set[Unit]], visible: frozenset[Key], k: int) -> list[set[Key]]:
    """Each set of fewer than k people a reader can compute (at least one inside every larger one), as the shown
    groups whose sums and differences give it.

    Atoms are numbered large ones (k people or more) first. A set of fewer than k people is made of small atoms
    only, so its 0/1 vector lies where the span meets the small atoms: in echelon form, the rows whose pivot is a
    small atom (every row whose pivot is a large atom stays non-zero there). Once those rows are fully reduced, each
    0/1 vector of that space is the sum of the rows at its pivots and holds their atoms: only the sets of rows whose
    pivots hold fewer than k people need trying, and only connected ones, part by part (_components,
    _small_sums)."""
    atoms: dict[frozenset[Key], set[int]] = defaultdict(set)
    for signature, members in by_signature.items():
        atoms[signature & visible] |= {unit[0] for unit in members}
    atoms.pop(frozenset(), None)
    order = sorted(atoms, key=lambda a: (len(atoms[a]) < k, sorted(a)))  # large atoms first
    first_small = sum(1 for a in order if len(atoms[a]) >= k)
    if first_small == len(order):
        return []
    columns: dict[Key, dict[int, int]] = {g: {} for g in visible}
    for i, a in enumerate(order):
        for g in a:
            columns[g][i] = 1
    span = _Span()
    for g in sorted(visible):
        span.add(columns[g], g)
    rows = _reduced([(pivot, vector, used) for pivot, vector, used in span.rows if pivot >= first_small])
    leaks = []
    for part in _components(rows):
        found = _small_sums(part, atoms, order, k) if len(part) <= _DIMENSIONS else None
        if found is None:  # too many to try: count every group in them as giving someone away
            leaks.append({g for _, _, used in part for g, v in used.items() if v})
        else:
            leaks += found
    return leaks


def _components(rows: list) -> list[list]:
    """The fully reduced rows in groups that share no atom, in their order. A set of rows whose sum is a 0/1 vector of
    fewer than k people, split into parts sharing no atom, has parts that each are one too (their sums are that
    vector where they lie): every leak holds one found within a group, and the search stays within each (an
    organisation's courses, whose teams and rows meet only through the organisation's rows, are dozens of small
    groups, not one search over hundreds of rows)."""
    parent = list(range(len(rows)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    holder: dict[int, int] = {}
    for n, (_, vector, _) in enumerate(rows):
        for atom in vector:
            if atom in holder:
                parent[root(n)] = root(holder[atom])
            else:
                holder[atom] = n
    parts: dict[int, list] = defaultdict(list)
    for n, row in enumerate(rows):
        parts[root(n)].append(row)
    return list(parts.values())


def _small_sums(rows: list, atoms: dict, order: list, k: int) -> list[set[Key]] | None:
    """The leaks among sums of these rows (one group of _components), as the groups that make each; None when more
    than _STEPS sets would be tried.

    Only connected sets of rows are tried (each shares an atom with another of the set; grown from its first row
    as ESU enumerates connected subgraphs, each once): a leak made of parts sharing no atom has parts that are
    leaks (_components), so every leak holds a connected one. A 0/1 vector of the space is the sum of the rows at
    its pivots, and holds each pivot's atom: only sets whose pivot atoms together have fewer than k people are
    grown."""
    leaks = []
    pivot_people = [atoms[order[pivot]] for pivot, _, _ in rows]
    holders: dict[int, list[int]] = defaultdict(list)
    for n, (_, vector, _) in enumerate(rows):
        for i in vector:
            holders[i].append(n)
    near = [sorted({m for i in vector for m in holders[i] if m != n}) for n, (_, vector, _) in enumerate(rows)]
    steps = 0

    def visit(picked: list[int], total: dict[int, int], around: set[int], candidates: list[int],
              people: set[int]) -> None:
        """`picked` (first row first) summing to `total`: a leak? Then each connected set grown from it: the rows
        in `candidates` (after the first, next to it, not yet tried at this depth) one at a time, each with its own
        new neighbours (`around`: the rows picked and next to them)."""
        nonlocal steps
        if all(v in (0, 1) for v in total.values()):
            covered = set().union(*(atoms[order[i]] for i, v in total.items() if v))
            if len(covered) < k:
                leaks.append({g for m in picked for g, v in rows[m][2].items() if v})
        candidates = list(candidates)
        while candidates:
            n = candidates.pop()
            more = people | pivot_people[n]
            if len(more) >= k:
                continue
            steps += 1
            if steps > _STEPS:
                raise _TooMany
            summed = dict(total)
            for i, v in rows[n][1].items():
                summed[i] = (summed.get(i, 0) + v) % _P
            fresh = [m for m in near[n] if m > picked[0] and m not in around]
            visit(picked + [n], summed, around | {n, *fresh}, candidates + fresh, more)

    try:
        for first in range(len(rows)):
            if len(pivot_people[first]) < k:
                fresh = [m for m in near[first] if m > first]
                visit([first], dict(rows[first][1]), {first, *fresh}, fresh, set(pivot_people[first]))
    except _TooMany:
        return None
    return leaks


class _TooMany(Exception):
    """_small_sums gave up: more than _STEPS sets of rows to try."""


def _reduced(rows: list) -> list:
    """Rows in echelon form made fully reduced: each pivot is 1 and every other row is 0 there."""
    rows = [(pivot, dict(vector), dict(used)) for pivot, vector, used in sorted(rows, key=lambda r: r[0])]
    for n, (pivot, vector, used) in enumerate(rows):
        for m, (_, other, other_used) in enumerate(rows):
            if m != n:
                _subtract(other, other_used, pivot, vector, used)
    return rows


def _subtract(vector: dict, used: dict, pivot: int, row: dict, row_used: dict) -> None:
    """vector -= vector[pivot] * row (in place, modulo _P), and the same of the groups that made them."""
    factor = vector.get(pivot, 0)
    if factor:
        for i, v in row.items():
            vector[i] = (vector.get(i, 0) - factor * v) % _P
            if not vector[i]:
                del vector[i]
        for g, v in row_used.items():
            used[g] = (used.get(g, 0) - factor * v) % _P


class _Span:
    """Vectors over the atoms, reduced to echelon form modulo _P, each remembering which groups made it."""

    def __init__(self):
        self.rows: list[tuple[int, dict[int, int], dict[Key, int]]] = []  # (pivot, vector, groups used)

    def _reduce(self, vector: dict[int, int], used: dict[Key, int]) -> tuple[dict[int, int], dict[Key, int]]:
        vector, used = dict(vector), dict(used)
        for pivot, row, row_used in self.rows:
            _subtract(vector, used, pivot, row, row_used)
        return vector, used

    def add(self, vector: dict[int, int], group: Key) -> None:
        vector, used = self._reduce(vector, {group: 1})
        if vector:
            pivot = min(vector)
            inverse = pow(vector[pivot], _P - 2, _P)
            self.rows.append((pivot, {i: v * inverse % _P for i, v in vector.items()},
                              {g: v * inverse % _P for g, v in used.items()}))

