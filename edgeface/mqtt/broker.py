"""How every edgeface paho client reaches the broker: callback API v2, the protocol, credentials, TLS.

The daemon's publisher, the fleet agent and the one-shot CLI connection build their clients here, so
a broker setting is applied the same way everywhere. TLS files are checked before paho sees them,
so a typo in the config is reported as the ``mqtt.tls`` key and path at fault, not as an SSL error
at the first connection attempt.

Every client sends at once (TCP_NODELAY): MQTT packets are small and go back to back (a door state,
then its event), and Nagle's algorithm would hold each one after the first until the broker's
delayed ACK, some 40 ms later.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from paho.mqtt.client import Client, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edgeface.config import MqttConfig, TlsConfig
from edgeface.errors import ConfigError

__all__ = ["acknowledged", "broker_client", "configure_tls"]


def broker_client(
    mqtt: MqttConfig,
    client_id: str,
    *,
    log: logging.Logger,
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
) -> Client:
    """A paho client for ``mqtt``'s broker with its credentials and TLS set; not connected yet.

    ``log`` is the caller's logger (see :func:`configure_tls`).
    """
    client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    client.on_socket_open = _send_at_once
    if mqtt.username is not None:
        client.username_pw_set(mqtt.username, mqtt.password)
    if mqtt.tls is not None:
        configure_tls(client, mqtt.tls, log=log)
    return client


def acknowledged(sent: MQTTMessageInfo, timeout: float) -> bool:
    """Whether the broker acknowledged ``sent`` (QoS 1) within ``timeout`` seconds. False, not paho's
    exception, when paho did not take it or the connection dropped while waiting (mosquitto cuts off a
    client its ACL denies)."""
    try:
        sent.wait_for_publish(timeout)
        return sent.is_published()
    except (RuntimeError, ValueError):
        return False


def configure_tls(client: Client, tls: TlsConfig, *, log: logging.Logger) -> None:
    """Make ``client`` verify the broker with ``tls`` (and present a client certificate if one is set).

    Raises ConfigError naming the ``mqtt.tls`` key of a missing file, or when the files do not load.
    ``log`` is the caller's logger: ``mqtt.tls.insecure`` is one warning line there.
    """
    files = {"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}
    paths = {key: str(Path(value).expanduser()) if value else None for key, value in files.items()}
    for key, path in paths.items():
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"mqtt.tls.{key}: {path}: file not found")
    try:
        client.tls_set(ca_certs=paths["ca_file"], certfile=paths["cert_file"], keyfile=paths["key_file"])
    except (OSError, ValueError) as exc:
        raise ConfigError(f"mqtt.tls: cannot load the TLS files ({exc})") from exc
    if tls.insecure:
        log.warning("mqtt.tls.insecure is set: the broker's hostname is not verified")
        client.tls_insecure_set(True)


def _send_at_once(client: Client, userdata: object, sock: object) -> None:
    """paho's ``on_socket_open``: turn Nagle's algorithm off (see the module docstring)."""
    if isinstance(sock, socket.socket):  # a TLS socket is one too
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
