"""The tenant's organization object (``/organization``): :mod:`.models` and :mod:`.responses`."""
