"""The few Azure Resource Manager calls a client makes while signing in, mounted under ``/arm``.

``az login`` lists tenants and subscriptions through ARM after it got a token for
the management resource (``https://management.core.windows.net/``). The emulator
has no Azure resources: it answers the tenant list with the caller's tenant and an
empty subscription list, as ARM does for an identity that holds no role on any
subscription. :mod:`.models` holds the shapes and the first-party service
principal that the management resource's tokens are issued for; :mod:`.responses`
the routes.
"""
