"""The emulator's TLS identity: a private CA and a localhost server certificate it signs.

The SDKs refuse plain http (kiota allows it only for some hosts, azure-identity
wants an https authority), so the emulator serves TLS. Clients trust the CA PEM
(``verify=`` / ``connection_verify=`` / ``REQUESTS_CA_BUNDLE``); the CA and the server
key live in a data directory and are reused while valid, so a CA a developer
exported once keeps working across restarts. ECDSA P-256 keys: generation is
instant, which keeps emulator start-up well under a second. A folder created here
is 0700 and every file 0600 (:mod:`provisioner.emulator.files`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioner.emulator.files import private_directory, write_private_file

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"

DNS_NAMES = ("localhost",)
IP_ADDRESSES = ("127.0.0.1", "::1")

CA_LIFETIME = timedelta(days=3650)
# Below the 825-day ceiling some TLS stacks enforce for server certificates.
SERVER_LIFETIME = timedelta(days=800)
# Regenerate when less than this is left, so a long CI run never crosses expiry.
RENEW_MARGIN = timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files; ``ca_cert`` is what clients pass as ``verify``."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def ensure_tls_files(data_dir: Path | str) -> TlsFiles:
    """Return usable TLS files in ``data_dir``, creating or renewing only what is missing or stale.

    A still-valid CA is always kept (clients trust it); only the server
    certificate is re-issued when it expires or lacks a required name.
    """
    directory = private_directory(Path(data_dir))
    files = TlsFiles(directory / CA_FILE, directory / SERVER_FILE, directory / SERVER_KEY_FILE)
    now = datetime.now(UTC)

    ca = _load_ca(directory, now)
    if ca is None:
        ca = _create_ca(now)
        write_private_file(directory / CA_KEY_FILE, _key_pem(ca[1]))
        write_private_file(files.ca_cert, ca[0].public_bytes(serialization.Encoding.PEM))
        _remove(files.server_cert)
    ca_cert, ca_key = ca

    if not _server_cert_usable(files, ca_cert, now):
        cert, key = _create_server_cert(ca_cert, ca_key, now)
        write_private_file(files.server_key, _key_pem(key))
        write_private_file(files.server_cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


def _load_ca(directory: Path, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None
    if cert.not_valid_after_utc - RENEW_MARGIN < now:
        return None
    return cert, key


def _server_cert_usable(files: TlsFiles, ca_cert: x509.Certificate, now: datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return False
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return False
    if cert.not_valid_after_utc - RENEW_MARGIN < now or cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    names = set(san.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(DNS_NAMES) <= names and set(IP_ADDRESSES) <= ips


def _create_ca(now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "provisioner emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"provisioner emulator local CA {now:%Y%m%d%H%M%S}"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        # pathlen 0: this CA can sign the localhost server certificate and nothing that signs further.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _create_server_cert(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in DNS_NAMES] + [x509.IPAddress(ipaddress.ip_address(a)) for a in IP_ADDRESSES]
    )
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + SERVER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(san, critical=False)
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
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
