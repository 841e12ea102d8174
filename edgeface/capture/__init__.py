"""Cameras: the latest-frame grabber over a Source (picamera2, OpenCV/RTSP, a file or folder), and an in-memory
camera for tests.
"""
