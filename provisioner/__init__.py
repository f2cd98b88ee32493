"""provisioner: infrastructure-as-code for Microsoft Entra ID app registrations."""

__version__ = "0.1.0"
