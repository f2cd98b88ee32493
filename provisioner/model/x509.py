"""Certificates for key credentials: a generated key pair and self-signed certificate, or a user's file.

Entra's key credential (``AsymmetricX509Cert``, usage ``Verify``) holds only the public
certificate; the private key stays with whoever signs client assertions. A generated
:class:`CertificateMaterial` carries its private key for delivery to sinks and hides it from
``repr`` (it must never reach a log, an exception or a snapshot). A user's certificate file
gives public material only: nothing to deliver, the user keeps the key.

The thumbprint is the certificate's SHA-1 as upper-case hex, the way the Entra portal shows
it and ``customKeyIdentifier`` carries it; client assertions name it base64url-encoded in
their ``x5t`` header.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from provisioner.model.thumbprint import normalize_thumbprint  # noqa: F401 (re-exported)


class CertificateFileError(ValueError):
    """A certificate file that cannot be used; ``str()`` is one line naming the file, never its bytes."""


@dataclass(frozen=True)
class CertificateMaterial:
    """One certificate: public DER, thumbprint, validity and (generated only) its private key."""

    der: bytes = field(repr=False)
    thumbprint: str
    not_before: datetime
    not_after: datetime
    private_key_pem: bytes | None = field(default=None, repr=False)

    @property
    def lifetime(self) -> object:
        return self.not_after - self.not_before

    @property
    def has_private_key(self) -> bool:
        return self.private_key_pem is not None

    def certificate_pem(self) -> bytes:
        cert = x509.load_der_x509_certificate(self.der)
        return cert.public_bytes(serialization.Encoding.PEM)

    def key_and_certificate_pem(self) -> bytes:
        """The private key followed by the certificate: one PEM file, as MSAL and most clients read it."""
        if self.private_key_pem is None:
            raise ValueError("no private key: the certificate was provided, not generated")
        return self.private_key_pem + self.certificate_pem()

    def pfx(self, password: str, name: str) -> bytes:
        """PKCS#12 (``.pfx``) holding key and certificate, encrypted with ``password``."""
        if self.private_key_pem is None:
            raise ValueError("no private key: the certificate was provided, not generated")
        key = serialization.load_pem_private_key(self.private_key_pem, password=None)
        cert = x509.load_der_x509_certificate(self.der)
        return pkcs12.serialize_key_and_certificates(
            name.encode("utf-8"),
            key,  # type: ignore[arg-type]
            cert,
            None,
            serialization.BestAvailableEncryption(password.encode("utf-8")),
        )


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-1 of the DER certificate as upper-case hex (Entra's ``customKeyIdentifier``, the portal's view)."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()


def x5t(thumbprint_hex: str) -> str:
    """The ``x5t`` JOSE header for a thumbprint: base64url of its bytes, unpadded."""
    return base64.urlsafe_b64encode(bytes.fromhex(thumbprint_hex)).decode().rstrip("=")


def _material(cert: x509.Certificate, private_key_pem: bytes | None = None) -> CertificateMaterial:
    return CertificateMaterial(
        der=cert.public_bytes(serialization.Encoding.DER),
        thumbprint=thumbprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        private_key_pem=private_key_pem,
    )


def generate(subject: str, key_size: int, start: datetime, end: datetime) -> CertificateMaterial:
    """A new RSA key pair and a self-signed certificate valid from ``start`` to ``end`` (whole seconds)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    start = start.astimezone(UTC).replace(microsecond=0)
    end = end.astimezone(UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _material(cert, pem)


def load_public(path: Path) -> CertificateMaterial:
    """The public certificate in ``path`` (PEM or DER); a :class:`CertificateFileError` otherwise.

    A file that also holds a private key is refused: the manifest names a *public* certificate
    (the user keeps the key), and a key in a file the tool reads could end up where it should not.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateFileError(
            f"cannot read certificate file {path}: {exc.strerror or type(exc).__name__}"
        ) from None
    if b"PRIVATE KEY-----" in data:
        raise CertificateFileError(
            f"certificate file {path} holds a private key; give the public certificate only (.cer/.pem)"
        )
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateFileError(
            f"certificate file {path} is not an X.509 certificate (PEM or DER)"
        ) from None
    return _material(cert)
