"""Mailboxes behind Graph (``/me/messages``, ``/users/{id}/messages``, ``sendMail``): models and HTTP."""
