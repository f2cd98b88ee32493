"""What the tool is doing right now, for messages written far from where the work is decided.

The HTTP retry layer (:mod:`provisioner.graph.retry`) sees URLs, not intent;
the error mapper (:mod:`provisioner.graph.failures`) sees an exception, not the
request that caused it. Two context variables bridge that gap without
threading extra arguments through the SDK:

* :data:`current_action` — set by :func:`provisioner.graph.failures.graph_errors`
  ("logistics-ops: create service principal"), read when a wait is reported;
* :data:`refusals` — a list (installed by ``graph_errors``) to which the retry
  layer appends the method and path of every request Graph refused with 403;
  read when the 403 is turned into a message naming the missing permission.
  A list, not a value: requests run in child tasks (``asyncio.gather``) get a
  copy of the context, and only a shared mutable object carries their findings
  back to the block that reports the error.

Context variables follow asyncio tasks, so concurrent apps never see each
other's values.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    method: str
    path: str  # relative to the Graph version segment, e.g. "/servicePrincipals(appId='...')"


current_action: ContextVar[str | None] = ContextVar("provisioner_current_action", default=None)
refusals: ContextVar[list[Refusal] | None] = ContextVar("provisioner_refusals", default=None)


def note_refusal(method: str, path: str) -> None:
    found = refusals.get()
    if found is not None:
        found.append(Refusal(method.upper(), path))
