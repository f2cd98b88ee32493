"""The user resource (``/users``, ``/me``): :mod:`.models` (state) and :mod:`.responses` (HTTP)."""
