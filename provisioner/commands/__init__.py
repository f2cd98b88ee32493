"""One module per command; importing this package registers them all on ``app``.

Each module must stay cheap to import (heavy libraries are imported inside the
command function), because ``provisioner --help`` imports every one of them.
"""

from provisioner.commands import (  # noqa: F401
    apply,
    authorize,
    destroy,
    doctor,
    emulator,
    export,
    plan,
    restore,
    rotate,
    schema,
    status,
    validate,
    verify,
)
from provisioner.commands._base import app

__all__ = ["app"]
