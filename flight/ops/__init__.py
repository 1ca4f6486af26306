"""flight.ops: the standing fleet service — tasks all day (immediate, timed, conditional, the patrol
cycle, the emergency sweep), each dispatched to a drone with the reasons kept, over one controller."""
