"""``status --html FILE``: one self-contained page, a timeline per app and tenant.

No scripts, fonts or images from elsewhere: inline CSS only, so the page opens from a mail
attachment or a CI artefact. Each row shows every secret of the app as a bar on one shared time
axis (validity), the rotate window (hatched end of the current secret), the overlap of a replaced
one, a "now" line, the last sign-in, and what the next ``rotate`` does; rows are coloured by
urgency. Never a secret value: keyIds and hints only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from provisioner.core.text import printable

URGENT_DAYS = 14

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.4rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
tr.urgency-ok{background:#eef8ee}tr.urgency-soon{background:#fff6dd}tr.urgency-urgent{background:#fde4e4}
.timeline{position:relative;height:2.2rem;min-width:320px;background:#fafafa;border:1px solid #ccc}
.bar{position:absolute;height:.7rem;background:#4a7bd0;border-radius:2px}
.bar.previous{background:#9aa9c2}.bar.expired{background:#b55}
.window{position:absolute;height:.7rem;background:repeating-linear-gradient(45deg,#e0a800,#e0a800 3px,#fff0 3px,#fff0 6px)}
.overlap{position:absolute;height:.7rem;border:1px dashed #555;box-sizing:border-box}
.now{position:absolute;top:0;bottom:0;width:2px;background:#c00}
.legend span{margin-right:1rem}
"""


def _pct(moment: datetime, start: datetime, span: float) -> float:
    return max(0.0, min(100.0, (moment - start).total_seconds() / span * 100))


def _t(value: str) -> str:
    return escape(printable(value))


def _urgency(app: Any, now: datetime) -> str:
    if app.problems:
        return "urgent"
    urgent = soon = False
    for row in app.secrets:
        if not row.state.startswith("current") or row.end is None:
            soon = soon or row.state == "previous, still used"
            continue
        left = (row.end - now) / timedelta(days=1)
        urgent = urgent or left <= URGENT_DAYS
        soon = soon or row.state == "current, rotation due"
    return "urgent" if urgent else "soon" if soon else "ok"


def _timeline(app: Any, now: datetime, start: datetime, span: float) -> str:
    parts = [f'<div class="timeline"><div class="now" style="left:{_pct(now, start, span):.2f}%"></div>']
    rows = [r for r in app.secrets if r.start is not None and r.end is not None]
    for i, row in enumerate(rows):
        top = 0.2 + (i % 2) * 0.9
        left, right = _pct(row.start, start, span), _pct(row.end, start, span)
        kind = "expired" if row.end <= now else "previous" if row.state.startswith("previous") else "current"
        title = _t(f"{row.name}: {row.hint}... {row.state}, {row.start:%Y-%m-%d} to {row.end:%Y-%m-%d}")
        parts.append(
            f'<div class="bar {kind}" data-key-id="{_t(row.key_id)}" title="{title}" '
            f'style="top:{top}rem;left:{left:.2f}%;width:{max(right - left, 0.3):.2f}%"></div>'
        )
        if row.rotate_at is not None:
            w = _pct(row.rotate_at, start, span)
            parts.append(
                f'<div class="window" title="rotate window" style="top:{top}rem;left:{w:.2f}%;'
                f'width:{max(right - w, 0.3):.2f}%"></div>'
            )
        if row.retire_at is not None:
            o = _pct(row.retire_at, start, span)
            parts.append(
                f'<div class="overlap" title="overlap until {row.retire_at:%Y-%m-%d}" '
                f'style="top:{top}rem;left:{left:.2f}%;width:{max(o - left, 0.3):.2f}%"></div>'
            )
    parts.append("</div>")
    return "".join(parts)


def render_status_html(outcome: Any) -> str:
    """The page for a ``status`` run (one tenant or a ``--tenants`` file)."""
    entries: list[tuple[str, Any, datetime]] = []
    for name, result in outcome.results.items():
        status = getattr(result, "status", None)
        if status is None:
            continue
        tenant = result.tenant_id or name
        entries += [(tenant, app, status.now) for app in status.apps]
    moments = [m for _, app, _ in entries for r in app.secrets for m in (r.start, r.end) if m is not None]
    moments += [now for _, _, now in entries]
    start = min(moments) if moments else datetime.now().astimezone()
    end = max(moments) if moments else start + timedelta(days=1)
    span = max((end - start).total_seconds(), 1.0)
    rows: list[str] = []
    for tenant, app, now in entries:
        urgency = _urgency(app, now)
        validity = "<br>".join(
            _t(f"{r.hint}... {r.state}, expires {r.end:%Y-%m-%d}" if r.end else f"{r.hint}... {r.state}")
            for r in app.secrets
        )
        uses = [r for r in app.secrets if r.last_use]
        last = "<br>".join(
            _t(f"{r.hint}...: {r.last_use[0]:%Y-%m-%d %H:%M}Z from {r.last_use[1]}") for r in uses
        )
        nxt = "<br>".join(_t(f"{k}: {v}") for k, v in app.next.items())
        problems = "".join(f"<div>{_t(p)}</div>" for p in app.problems)
        rows.append(
            f'<tr class="app urgency-{urgency}" data-tenant="{_t(tenant)}" data-app="{_t(app.app)}" '
            f'data-urgency="{urgency}"><td>{_t(tenant)}</td><td>{_t(app.app)}</td>'
            f"<td>{_timeline(app, now, start, span)}</td><td>{validity}</td>"
            f'<td class="last-use">{last or "unknown"}</td><td class="next">{nxt}{problems}</td></tr>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>provisioner status</title><style>{_CSS}</style></head><body>"
        f"<h1>Secrets at a glance</h1><p>{start:%Y-%m-%d} to {end:%Y-%m-%d}. "
        '<span class="legend"><span>blue: valid</span><span>hatched: rotate window</span>'
        "<span>dashed: overlap</span><span>red line: now</span></span></p>"
        "<table><thead><tr><th>Tenant</th><th>App</th><th>Timeline</th><th>Secrets</th>"
        "<th>Last sign-in</th><th>Next rotate</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
