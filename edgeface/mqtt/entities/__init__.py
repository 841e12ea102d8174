"""Home Assistant entities of a door, one module per entity platform (as in Home Assistant's own MQTT component).

Each module builds the discovery config of its platform's entities from a :class:`DoorDevice`;
:mod:`edgeface.mqtt.discovery` assembles them. Adding an entity is one function in its platform's
module, its topic in :mod:`edgeface.mqtt.topics`, and the state it reports published by the daemon.
"""
