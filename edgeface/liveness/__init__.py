"""Presentation-attack detection on faces that matched someone: MiniFASNet scores and the temporal landmark
check.
"""
