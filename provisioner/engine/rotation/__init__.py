"""Secret lifecycle: scheduled rotation with overlap, lost-secret (orphan) recovery, status.

The pieces, each in its own module:

* :mod:`~provisioner.engine.rotation.policy` — pure decisions per declared secret
  (mint? retire which old one? which secret is an orphan?), unit tested.
* :mod:`~provisioner.sinks.holdings` — which keyIds the sinks hold now.
* :mod:`~provisioner.engine.rotation.actions` — decisions as plan actions, merged into
  ``make_plan``'s plan, and executed in the right phase (before the mint, or
  only after the replacement was delivered).
* :mod:`~provisioner.graph.servertime` — "now" as Graph's ``Date`` header.
* :mod:`~provisioner.engine.rotation.run` — the ``rotate`` and ``status`` workflows.
* :mod:`~provisioner.views.rotation` — their JSON and rich output.

The invariant every module serves: at no moment is there no valid secret a
sink holds. A replacement is minted and delivered before anything old is
removed; an old secret is removed only when no sink holds it and its overlap
(measured from the replacement's ``startDateTime``) has passed, or it expired.
"""
