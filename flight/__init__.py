"""flight: flies — coverage planning, scheduling, MAVLink fleet control, simulated vehicles."""
