"""The group resource (``/groups``): :mod:`.models` (state) and :mod:`.responses` (HTTP)."""
