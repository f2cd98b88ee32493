"""The emulator's CA and server certificate: created once, reused, renewed without changing the CA."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

from cryptography import x509

from provisioner.emulator.tls import ensure_tls_files


def test_creates_ca_and_localhost_certificate(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path / "tls")
    cert = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert (files.server_key.stat().st_mode & 0o777) == 0o600
    # Loadable by the standard library exactly as clients and uvicorn use them.
    ssl.create_default_context(cafile=str(files.ca_cert))
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(files.server_cert, files.server_key)


def test_reuses_files_and_keeps_ca_when_server_cert_is_renewed(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path)
    ca_pem, cert_pem = first.ca_cert.read_bytes(), first.server_cert.read_bytes()
    again = ensure_tls_files(tmp_path)
    assert again.ca_cert.read_bytes() == ca_pem and again.server_cert.read_bytes() == cert_pem
    first.server_cert.write_text("garbage")
    renewed = ensure_tls_files(tmp_path)
    assert renewed.ca_cert.read_bytes() == ca_pem
    assert renewed.server_cert.read_bytes() != cert_pem
    ca = x509.load_pem_x509_certificate(ca_pem)
    x509.load_pem_x509_certificate(renewed.server_cert.read_bytes()).verify_directly_issued_by(ca)


def test_broken_ca_is_replaced(tmp_path: Path) -> None:
    old_ca = ensure_tls_files(tmp_path).ca_cert.read_bytes()
    (tmp_path / "ca-key.pem").write_text("not a key")
    second = ensure_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(second.ca_cert.read_bytes())
    x509.load_pem_x509_certificate(second.server_cert.read_bytes()).verify_directly_issued_by(ca)
    assert second.ca_cert.read_bytes() != old_ca
