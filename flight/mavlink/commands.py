"""COMMAND_LONG with COMMAND_ACK: retries with the `confirmation` counter, IN_PROGRESS waits."""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from flight.mavlink.channel import Channel
from flight.mavlink.errors import CommandFailed, ProtocolTimeout
from flight.mavlink.flavours import Flavour


async def command(ch: Channel, cmd: int, *params: float, timeout_s: float = 1.5, retries: int = 3,
                  detail=lambda: "") -> int:
    """Send MAV_CMD `cmd`; return MAV_RESULT_ACCEPTED or raise CommandFailed / ProtocolTimeout.

    `detail()` supplies text for the error (e.g. the latest PreArm STATUSTEXT)."""
    p = list(params) + [0.0] * (7 - len(params))
    ch.begin()
    for confirmation in range(retries + 1):
        ch.send(ch.mav.command_long_encode(ch.system_id, ch.component_id, cmd, confirmation, *p))
        while True:
            ack = await ch.expect(("COMMAND_ACK",), timeout_s, lambda m: m.command == cmd)
            if ack is None or ack.result != mavlink.MAV_RESULT_IN_PROGRESS:
                break
        if ack is None:
            continue
        if ack.result == mavlink.MAV_RESULT_ACCEPTED:
            return ack.result
        raise CommandFailed(cmd, ack.result, detail())
    raise ProtocolTimeout(f"no COMMAND_ACK for command {cmd} from system {ch.system_id} after {retries} retries")


async def set_mode(ch: Channel, flavour: Flavour, mode: str, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_DO_SET_MODE, *flavour.set_mode_params(mode), **kw)


async def arm(ch: Channel, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_COMPONENT_ARM_DISARM, 1.0, **kw)


async def takeoff(ch: Channel, alt_rel_m: float, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), float("nan"), float("nan"),
                         alt_rel_m, **kw)


async def mission_start(ch: Channel, first: int = 0, last: int = 0, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_MISSION_START, first, last, **kw)


async def return_to_launch(ch: Channel, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, **kw)


async def land(ch: Channel, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_NAV_LAND, **kw)


async def set_message_interval(ch: Channel, message_id: int, hz: float, **kw) -> int:
    return await command(ch, mavlink.MAV_CMD_SET_MESSAGE_INTERVAL, message_id, 1e6 / hz, **kw)
