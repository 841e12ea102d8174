"""From matches to the door: the N-of-M decider, rate limits, the fail-secure relay on gpiozero, the commands
the door takes and its two ports (events out, commands in).
"""
