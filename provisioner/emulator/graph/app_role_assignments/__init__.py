"""App role assignments (application permissions and role grants): :mod:`.models` and :mod:`.responses`."""
