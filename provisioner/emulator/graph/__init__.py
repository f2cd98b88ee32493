"""The emulated Microsoft Graph v1.0 surface, one folder per resource (moto-style).

Each resource folder keeps its state and Entra's rules (``models.py`` and friends)
apart from its transport-free HTTP handlers (``responses.py``, which also
registers the resource's routes). Shared plumbing sits beside them:

* :mod:`.asgi` mounts one catch-all route under ``/v1.0``; :mod:`.urls` is the
  route table; :mod:`.routing` the request/response types and the router;
* :mod:`.dispatch` authenticates (:mod:`.auth`), routes, runs writes in one store
  transaction and renders :mod:`.errors`; :mod:`.batch` feeds ``$batch`` inner
  requests through the same dispatcher;
* :mod:`.envelopes` builds response bodies, :mod:`.odata` parses and applies query
  options, :mod:`.expansions` and :mod:`.owners` serve navigation properties;
* :mod:`.ids`, :mod:`.replication` and :mod:`.directory_objects` are small helpers
  the models share.
"""
