"""The vision core: detect, align, embed, match and track faces; pure functions on numpy arrays behind the
Detector and Embedder seams.
"""
