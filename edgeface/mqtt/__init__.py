"""MQTT: topics, strict command parsing, the Publisher seam, the paho 2.x client, the outbox pump that feeds
it from the durable outbox, TLS setup, and Home Assistant discovery.
"""
