"""The emulated Microsoft identity platform (v2.0 endpoints).

Discovery documents and JWKS, the token endpoint (client credentials, authorization
code with PKCE, refresh tokens) and a real HTML authorize page with sign-in and
consent. Errors carry the platform's AADSTS codes so clients see what they would
see against Microsoft.
"""
