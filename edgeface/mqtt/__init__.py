"""MQTT: topics, strict command parsing, the Publisher seam, the paho 2.x client with its durable outbox, Home
Assistant discovery.
"""
