"""App management policies: the tenant default and policies applied to single applications."""
