"""Text output of multi-tenant runs (``--tenants``): one section per tenant, then a one-line verdict each.

The per-tenant content is what single-tenant runs print (:mod:`provisioner.views.render`);
this module only frames it, so the two never drift apart.
"""

from __future__ import annotations

from typing import Any

from provisioner.views.render import console, print_apply_result, print_plan, safe


def _header(name: str, tenant_id: str | None) -> None:
    console().print()
    console().rule(f"tenant {safe(name)} ({safe(tenant_id or '?')})", align="left")


def print_plans(plans: dict[str, Any], results: dict[str, Any]) -> None:
    """Every tenant's plan (or its error), in tenants-file order."""
    for name, result in results.items():
        _header(name, result.tenant_id)
        if name in plans:
            print_plan(plans[name], warnings=result.warnings)
        elif result.error:
            console().print(f"[red]failed:[/] {safe(result.error)}")


def print_fanout_plan(outcome: Any) -> None:
    print_plans({n: r.plan for n, r in outcome.results.items() if r.plan is not None}, outcome.results)
    print_summary(outcome)


def print_fanout_apply(outcome: Any, *, show_secrets: bool) -> None:
    for name, result in outcome.results.items():
        _header(name, result.tenant_id)
        if result.applied is not None:
            print_apply_result(result.applied, show_secrets=show_secrets)
        if result.error:
            console().print(f"[red]failed:[/] {safe(result.error)}")
    print_summary(outcome)


def print_fanout_rotate(outcome: Any, *, show_secrets: bool) -> None:
    from provisioner.views.rotation import print_rotate

    for name, result in outcome.results.items():
        _header(name, result.tenant_id)
        if result.rotated is not None:
            print_rotate(result.rotated, show_secrets=show_secrets)
            for error in result.rotated.errors:
                console().print(f"[red]error:[/] {safe(str(error))}")
        if result.error:
            console().print(f"[red]failed:[/] {safe(result.error)}")
    out = console()
    out.print()
    for name, result in outcome.results.items():
        verdict = result.rotated.status if result.rotated is not None and result.ok else "failed"
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        out.print(f"{mark} {safe(name)}: {verdict}")


def print_fanout_status(outcome: Any) -> None:
    from provisioner.views.rotation import print_status

    for name, result in outcome.results.items():
        _header(name, result.tenant_id)
        if result.status is not None:
            print_status(result.status)
        if result.error:
            console().print(f"[red]failed:[/] {safe(result.error)}")
    out = console()
    out.print()
    for name, result in outcome.results.items():
        if not result.ok:
            out.print(f"[red]✗[/] {safe(name)}: failed")
        elif result.status is not None and not result.status.healthy:
            out.print(f"[yellow]![/] {safe(name)}: needs attention")
        else:
            out.print(f"[green]✓[/] {safe(name)}: healthy")


def print_summary(outcome: Any) -> None:
    out = console()
    out.print()
    for name, result in outcome.results.items():
        if not result.ok:
            out.print(f"[red]✗[/] {safe(name)}: failed")
            continue
        plan = result.applied.plan if result.applied is not None else result.plan
        changes = len(plan.actions) if plan is not None else 0
        verb = "applied" if result.applied is not None else "pending"
        out.print(f"[green]✓[/] {safe(name)}: {changes} change(s) {verb}")
