"""Simulated multicopters that speak MAVLink 2 over UDP the way ArduCopter 4.7 SITL does.

Used to rehearse a patrol (`patrol fly PLAN --sim N`) and to test the fleet controller.
"""
