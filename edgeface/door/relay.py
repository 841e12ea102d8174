"""The door relay: a gpiozero output pin pulsed to unlock, fail-secure.

The relay is energised only during a pulse: it is de-energised (locked) when
constructed, when a pulse ends, on ``lock()``, on ``close()`` and at interpreter
exit. Wire the lock so that a de-energised relay means *locked* (a fail-secure
strike on the normally-open contacts, or a maglock on the normally-closed ones);
then a crash, a power cut or an unplugged Pi all leave the door locked.

The gpiozero pin factory is passed in explicitly (``make_pin_factory``) rather
than through gpiozero's global ``Device.pin_factory``, so tests can use
``MockFactory`` and assert pin levels with their timestamps.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from gpiozero import OutputDevice
from gpiozero.exc import GPIOPinInUse, PinInvalidPin
from gpiozero.pins import Factory

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory

from edgeface.config.relay import RelayConfig
from edgeface.door.gpiochip import MockChipFactory, lgpio_chip_factory
from edgeface.errors import ConfigError
from edgeface.values import DoorState

log = logging.getLogger(__name__)

DoorCallback = Callable[[DoorState], None]

# name → (module, class, what a Raspberry Pi OS install needs for it)
_REAL_FACTORIES: dict[str, tuple[str, str, str]] = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "apt install python3-lgpio (or pip install lgpio)"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "apt install python3-rpi-lgpio (or pip install RPi.GPIO)"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory", "apt install python3-pigpio pigpiod and start pigpiod"),
    "native": ("gpiozero.pins.native", "NativeFactory", "a Raspberry Pi 4 or older with /dev/gpiomem"),
}
_PI_MODEL = Path("/proc/device-tree/model")


class Relay(Protocol):
    """What the service needs from a door relay."""

    @property
    def state(self) -> DoorState: ...

    def pulse(self, seconds: float | None = None) -> None: ...

    def lock(self) -> None: ...

    def on_change(self, callback: DoorCallback) -> None: ...

    def close(self) -> None: ...


def _load_factory(name: str) -> Factory:
    module_name, class_name, needs = _REAL_FACTORIES[name]
    try:
        factory_class = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        raise ConfigError(f"relay.pin_factory: {name!r} needs its GPIO library: {needs} ({exc})") from exc
    try:
        return factory_class()
    except Exception as exc:
        raise ConfigError(f"relay.pin_factory: {name!r} cannot reach the GPIO hardware ({exc}); needs {needs}") from exc


def _is_raspberry_pi() -> bool:
    try:
        return _PI_MODEL.read_bytes().startswith(b"Raspberry Pi")
    except OSError:
        return False


def _auto_factory() -> Factory:
    # gpiozero's own default honours GPIOZERO_PIN_FACTORY; so do we.
    if env := os.environ.get("GPIOZERO_PIN_FACTORY"):
        return make_pin_factory(env.lower())
    problems = []
    for name in _REAL_FACTORIES:
        try:
            # gpiozero warns on some fallbacks (native); we report once below instead.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _load_factory(name)
        except ConfigError as exc:
            problems.append(f"{name}: {exc.__cause__}")
    reasons = "; ".join(problems)
    if _is_raspberry_pi():
        # Silently running a door controller on a mock pin would be worse than not starting.
        raise ConfigError(
            f"relay.pin_factory: auto found no working GPIO library on this Raspberry Pi ({reasons}); "
            "apt install python3-lgpio, and check that the user may open /dev/gpiochip*"
        )
    # One short line on every run and doctor of a machine without GPIO; why each library failed is detail.
    log.warning(
        "no GPIO library works here (tried %s): the relay is simulated and will not move; "
        "relay.pin_factory: mock hides this warning",
        ", ".join(_REAL_FACTORIES),
    )
    log.debug("GPIO libraries: %s", reasons)
    return _mock_factory()


def _mock_factory() -> MockFactory:
    # Imported only when used: ``relay lock`` on a Pi never needs the mock backend.
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


def make_pin_factory(name: str, chip: int | None = None) -> Factory:
    """Build the gpiozero pin factory named in ``relay.pin_factory``.

    ``mock`` is gpiozero's ``MockFactory``; ``lgpio``, ``rpigpio``, ``pigpio`` and
    ``native`` are the real backends (ConfigError naming the missing library);
    ``auto`` tries them in gpiozero's order and, on a machine that is not a
    Raspberry Pi, falls back to ``MockFactory`` with one warning. With ``chip``
    (``relay.chip``), pins are the lines of /dev/gpiochip<chip>: lgpio drives them
    (``auto`` or ``lgpio``; no fallback to the mock, the chip was asked for), or
    ``mock`` numbers its pins alike. The caller owns the factory and should
    ``close()`` it after the relay.
    """
    if chip is not None:
        return MockChipFactory(chip) if name == "mock" else lgpio_chip_factory(chip)
    if name == "mock":
        return _mock_factory()
    if name == "auto":
        return _auto_factory()
    if name not in _REAL_FACTORIES:
        choices = ", ".join(["auto", "mock", *_REAL_FACTORIES])
        raise ConfigError(f"relay.pin_factory: unknown pin factory {name!r}; choose one of {choices}")
    return _load_factory(name)


class DoorRelay:
    """A relay on one GPIO pin, energised (door unlocked) only during a pulse.

    ``pulse`` returns at once; a timer re-locks. A pulse while the door is open
    extends it to whichever ends later, so a short grant never cuts a longer
    remote unlock short. State-change callbacks run in the thread that made the
    change (the caller's or the timer's), in order; keep them quick.
    """

    def __init__(
        self,
        pin: int,
        *,
        pin_factory: Factory,
        active_high: bool = True,
        pulse_seconds: float = 3.0,
        where: str | None = None,
    ) -> None:
        """``where`` names the pin in messages (RelayConfig.where: ``gpiochip0 line 105``); default ``GPIO<pin>``."""
        self._where = where or f"GPIO{pin}"
        try:
            self._device = OutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except PinInvalidPin as exc:
            raise ConfigError(f"relay.pin: {pin!r} is not a GPIO pin on this board ({exc})") from exc
        except GPIOPinInUse as exc:
            raise ConfigError(f"relay.pin: {self._where} is already in use ({exc})") from exc
        self._pulse_seconds = pulse_seconds
        # Re-entrant so a callback may read ``state``; held while notifying to keep the order of events.
        self._lock = threading.RLock()
        self._state = DoorState.LOCKED
        self._callbacks: list[DoorCallback] = []
        self._timer: threading.Timer | None = None
        self._deadline = 0.0
        self._closed = False
        # Explicit pin factories are not closed by gpiozero at exit: re-lock ourselves.
        atexit.register(self._close_at_exit)

    @classmethod
    def from_config(cls, cfg: RelayConfig, pin_factory: Factory) -> DoorRelay:
        return cls(
            cfg.pin,
            pin_factory=pin_factory,
            active_high=cfg.active_high,
            pulse_seconds=cfg.pulse_seconds,
            where=cfg.where,
        )

    @property
    def state(self) -> DoorState:
        return self._state

    @property
    def closed(self) -> bool:
        return self._closed

    def on_change(self, callback: DoorCallback) -> None:
        """Call ``callback(state)`` on every change between locked and unlocked."""
        with self._lock:
            self._callbacks.append(callback)

    def pulse(self, seconds: float | None = None) -> None:
        """Unlock now and re-lock after ``seconds`` (default: the configured pulse)."""
        seconds = self._pulse_seconds if seconds is None else seconds
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"pulse length must be a positive number of seconds, not {seconds!r}")
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the door relay on {self._where} is closed")
            deadline = time.monotonic() + seconds
            if self._state is DoorState.UNLOCKED and deadline <= self._deadline:
                return
            self._cancel_timer()
            self._deadline = deadline
            try:
                self._device.on()
            except BaseException:
                self._device.off()
                raise
            timer = threading.Timer(seconds, self._expire, args=(deadline,))
            timer.daemon = True  # the atexit hook re-locks; never hold up shutdown for a pulse
            self._timer = timer
            timer.start()
            self._set(DoorState.UNLOCKED)

    def lock(self) -> None:
        """Re-lock at once (cancels any pulse). Safe to call at any time, even after close."""
        with self._lock:
            if self._closed:
                return
            self._cancel_timer()
            self._device.off()
            self._set(DoorState.LOCKED)

    def close(self) -> None:
        """Lock, then release the pin. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                self.lock()
            finally:
                self._closed = True
                self._device.close()
                atexit.unregister(self._close_at_exit)

    def __enter__(self) -> DoorRelay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DoorRelay({self._where}, {self._state.value}{', closed' if self._closed else ''})"

    def _close_at_exit(self) -> None:
        try:
            self.close()
        except Exception:
            log.exception("could not lock the door relay on %s at exit", self._where)

    def _expire(self, deadline: float) -> None:
        with self._lock:
            # A timer that lost the race with a later pulse, lock() or close() must do nothing.
            if self._closed or deadline != self._deadline or self._state is DoorState.LOCKED:
                return
            self._timer = None
            try:
                self._device.off()
            except Exception:
                # Nobody is waiting on this thread to hear about it; the state stays UNLOCKED, which is the truth.
                log.exception("could not re-lock the door relay on %s", self._where)
                return
            self._set(DoorState.LOCKED)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _set(self, state: DoorState) -> None:
        if state is self._state:
            return
        self._state = state
        log.info("door %s (%s)", state.value, self._where)
        for callback in list(self._callbacks):
            try:
                callback(state)
            except Exception:
                # A broken subscriber (say, MQTT) must never stop the door from re-locking.
                log.exception("door state callback %r failed", callback)
