"""From matches to the door: the N-of-M decider, rate limits, and the fail-secure relay on gpiozero."""
