"""MAVLink 2 plumbing shared by the fleet controller and the simulator: clock, codec, links,
the mission and command protocols (GCS side), and autopilot flavours (ArduPilot vs PX4)."""
