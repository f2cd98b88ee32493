"""Delegated permission grants (``/oauth2PermissionGrants``): :mod:`.models` and :mod:`.responses`."""
