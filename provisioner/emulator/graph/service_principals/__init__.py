"""The service principal resource (``/servicePrincipals``): :mod:`.models` (state) and :mod:`.responses` (HTTP)."""
