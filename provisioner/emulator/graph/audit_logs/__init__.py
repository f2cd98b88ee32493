"""Sign-in logs (``/beta/auditLogs/signIns``): :mod:`.models` records, :mod:`.responses` serves."""
