"""GPIO by gpiochip and line (``relay.chip``), for boards gpiozero has no header map of: Jetson, or a Pi 5's chip.

gpiozero's lgpio factory finds pins through the Raspberry Pi header it looks up from the Pi's revision
code; a Jetson has no such code, so there it cannot open a pin at all. lgpio itself only needs a
gpiochip and a line offset. The factories here keep gpiozero's lgpio (or mock) pins and replace the
board description with one header, ``gpiochip<N>``, whose pins are that chip's lines: ``GPIO<n>`` (and
plain ``n``) is line n of /dev/gpiochip<N>. Everything above the pin (OutputDevice, DoorRelay and its
fail-secure locking) is unchanged.
"""

from __future__ import annotations

import importlib
from typing import Any

from gpiozero.pins import BoardInfo, Factory, HeaderInfo, PinInfo
from gpiozero.pins.mock import MockFactory

from edgeface.errors import ConfigError

MOCK_LINES = 1024
"""Lines of the mock chip: room for any line number relay.pin accepts (0-1023)."""

LGPIO_NEEDS = "apt install python3-lgpio, or pip install lgpio (glibc >= 2.34)"


def chip_board_info(chip: int, lines: int, label: str) -> BoardInfo:
    """A board of one header, ``gpiochip<chip>``, whose pin n + 1 is line n."""
    header = f"gpiochip{chip}"
    pins = {
        line + 1: PinInfo(
            number=line + 1,
            name=f"GPIO{line}",
            names=frozenset({line, str(line), f"GPIO{line}", f"{header}:{line}"}),
            pull="",
            row=line + 1,
            col=1,
            interfaces=frozenset({"gpio"}),
        )
        for line in range(lines)
    }
    headers = {header: HeaderInfo(name=header, rows=lines, columns=1, pins=pins)}
    return BoardInfo(
        revision="",
        model=label or header,
        pcb_revision="",
        released="",
        soc="",
        manufacturer="",
        memory=None,
        storage="",
        usb=None,
        usb3=None,
        ethernet=None,
        eth_speed=None,
        wifi=None,
        bluetooth=None,
        csi=None,
        dsi=None,
        headers=headers,
        board="",
    )


class MockChipFactory(MockFactory):  # type: ignore[misc]  # gpiozero is untyped
    """gpiozero's mock pins, numbered as the lines of gpiochip ``chip``: the same numbering without the chip."""

    def __init__(self, chip: int) -> None:
        super().__init__()
        self.chip = chip
        self._info = chip_board_info(chip, MOCK_LINES, f"mock gpiochip{chip}")


def lgpio_chip_factory(chip: int) -> Factory:
    """gpiozero's lgpio factory on /dev/gpiochip``chip``, pins numbered by line; ConfigError if it cannot open."""
    try:
        lgpio: Any = importlib.import_module("lgpio")
        lgpio_pins: Any = importlib.import_module("gpiozero.pins.lgpio")
    except ImportError as exc:
        raise ConfigError(f"relay.chip: driving gpiochip{chip} needs lgpio: {LGPIO_NEEDS} ({exc})") from exc

    class LGPIOChipFactory(lgpio_pins.LGPIOFactory):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(chip=chip)  # given a chip, it never asks for a Raspberry Pi revision
            _, lines, name, label = lgpio.gpio_get_chip_info(self._handle)
            self._info = chip_board_info(chip, lines, label or name)

    try:
        factory: Factory = LGPIOChipFactory()
    except Exception as exc:  # lgpio.error: no such chip, or no permission on it
        raise ConfigError(
            f"relay.chip: cannot open /dev/gpiochip{chip} ({exc}); check `gpiodetect` and that this user "
            "may open it (group gpio, or a udev rule)"
        ) from exc
    return factory


def chip_description(factory: Factory) -> str:
    """What a chip factory drives, for doctor: ``/dev/gpiochip1 (tegra234-gpio, 164 lines)``."""
    info = factory.board_info
    (header,) = info.headers.values()
    return f"/dev/{header.name} ({info.model}, {header.rows} lines)"
