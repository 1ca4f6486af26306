"""Fleet control: every drone's MAVLink link in one asyncio process, sorties flown and recovered.

Entry point for other packages: `flight.fleet.api.run_fleet`.
"""
