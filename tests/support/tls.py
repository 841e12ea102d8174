"""A throwaway PKI for the TLS tests, made once per session with openssl (which deploy/test-tools.sh installs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway CA; server certificates for localhost + 127.0.0.1 (``server``) and for the name
    localhost only (``named``, to show hostname checking); a client certificate (``client``)."""
    tool = shutil.which("openssl")
    assert tool, "openssl is missing"
    root = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([tool, *args], cwd=root, check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=edgeface test CA")
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1"), ("named", "DNS:localhost"), ("client", "DNS:door")):
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (root / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        run(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        )  # fmt: skip
        (root / f"{name}.key").chmod(0o600)
    return root
