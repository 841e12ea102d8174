"""Local state on disk: one SQLite helper under the people store (people and templates, record versions,
access rules), the audit log and the outbox; private file permissions.
"""
