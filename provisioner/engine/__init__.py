"""The engine: every operation behind one options object (:class:`.options.RunOptions`).

:mod:`.runner` has the public operations ``plan``, ``apply``, ``rotate`` and
``status``, which run in one tenant or in every tenant of a tenants file;
``destroy``/``restore`` (:mod:`.destroy`), ``export`` (:mod:`.export`) and
``doctor`` (:mod:`.doctor`) take the same options. The per-tenant steps live in
:mod:`.workflow` (plan, apply), :mod:`.rotation` (rotate, status) and
:mod:`.delivery` (connection values to sinks); :mod:`.planner` is the pure diff.

Nothing is imported here: the CLI imports ``engine.options`` at start-up, and
the engine's modules pull in the Graph SDK.
"""
