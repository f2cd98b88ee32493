"""The directory recycle bin (``/directory/deletedItems``): HTTP over the applications and SP models."""
