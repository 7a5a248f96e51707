"""The help network as a server-side SVG: teams on a circle, help between them as lines whose width and label
give the number of helps, helps inside a team written in its node. One image to assistive technology
(role="img", title and desc), always followed on the page by a table of the same numbers."""
from __future__ import annotations

import math

from markupsafe import Markup, escape

from plugin.i18n import gettext as _
from plugin.i18n import ngettext
from plugin.insights.network import HelpNetwork
from plugin.teams.names import team_name
from plugin.web.charts import INK, MUTED, PALETTE

SIZE = 520


def network_svg(net: HelpNetwork, chart_id: str = "help-network") -> Markup:
    title = _("Help network: teams and the confirmed help between them")
    ids = list(net.nodes)
    if not ids:
        desc = _("No team is large enough to show.")
        body = (f'<text x="{SIZE / 2}" y="{SIZE / 4}" text-anchor="middle" fill="{MUTED}" font-size="13">'
                f'{escape(desc)}</text>')
        return _svg(chart_id, title, desc, SIZE / 2, body)
    centre, radius = SIZE / 2, SIZE / 2 - 90
    pos = {t: (centre + radius * math.cos(2 * math.pi * i / len(ids) - math.pi / 2),
               centre + radius * math.sin(2 * math.pi * i / len(ids) - math.pi / 2)) for i, t in enumerate(ids)}
    heaviest = max([e.helps for e in net.edges] or [1])
    parts = []
    for e in net.edges:
        (x1, y1), (x2, y2) = pos[e.a], pos[e.b]
        width = 2 + 8 * e.helps / heaviest
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{PALETTE[1]}" '
                     f'stroke-width="{width:.1f}" stroke-linecap="round"/>')
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        parts.append(f'<text x="{mx:.1f}" y="{my + 4:.1f}" text-anchor="middle" fill="{INK}" font-size="13" '
                     f'font-weight="600" paint-order="stroke" stroke="#fff" stroke-width="4">{e.helps}</text>')
    for t in ids:
        x, y = pos[t]
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="26" fill="{PALETTE[0]}" stroke="#fff" stroke-width="2"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" fill="#fff" font-size="13" '
                     f'font-weight="700">{net.within.get(t, "")}</text>')
        below = y + 44 if y >= centre else y - 34
        parts.append(f'<text x="{x:.1f}" y="{below:.1f}" text-anchor="middle" fill="{INK}" font-size="13">'
                     f'{escape(t_name(net, t))}</text>')
    desc = "; ".join(ngettext("%(a)s and %(b)s: %(num)s help", "%(a)s and %(b)s: %(num)s helps", e.helps,
                              a=team_name(e.a_name, e.a), b=team_name(e.b_name, e.b)) for e in net.edges) or \
        _("No help between teams large enough to show.")
    return _svg(chart_id, title, desc, SIZE, "".join(parts))


def t_name(net: HelpNetwork, team_id: int) -> str:
    name = team_name(net.nodes[team_id], team_id)
    return name if len(name) <= 28 else name[:27] + "…"


def _svg(chart_id: str, title: str, desc: str, height: float, body: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart network" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" viewBox="0 0 {SIZE} {height:.0f}" width="{SIZE}" '
        f'height="{height:.0f}" font-family="inherit" focusable="false"><title id="{chart_id}-title">'
        f'{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>{body}</svg>')
