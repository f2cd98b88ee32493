"""The application resource (``/applications``): state and rules apart from the HTTP handlers.

:mod:`.schema` (shape and defaults), :mod:`.models` (lookups, create, PATCH, delete,
restore), :mod:`.validation` and :mod:`.redirects` (Entra's rules), :mod:`.credentials`
(secrets and certificates), :mod:`.federated` (federated identity credentials),
:mod:`.key_rollover` (``addKey``/``removeKey`` proofs) and :mod:`.responses` (the
transport-free handlers, reused by ``$batch``, and their routes).
"""
