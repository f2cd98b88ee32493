"""The emulated Microsoft identity platform (v2.0 endpoints).

Discovery documents and JWKS, the token endpoint (client credentials, authorization
code with PKCE, refresh tokens) and a real HTML authorize page with sign-in and
consent. Errors carry the platform's AADSTS codes so clients see what they would
see against Microsoft.

State is kept apart from HTTP as in the Graph layer: :mod:`.models` (codes and
refresh tokens), :mod:`.tokens` (signing key, JWTs), :mod:`.directory` (read-side
lookups in the Graph-shaped store), :mod:`.permissions` (scopes and consent),
:mod:`.clients` (client authentication), :mod:`.grants` (the token endpoint's
grant types), :mod:`.tickets` and :mod:`.redirect_uris` (authorize-flow helpers);
:mod:`.responses` holds the routes, :mod:`.authorize`, :mod:`.authorize_page` and
:mod:`.discovery` what they render.
"""
