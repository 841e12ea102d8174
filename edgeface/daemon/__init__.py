"""The running door: the frame loop, the stall guard, systemd notification, preflight, metrics and the live page."""
