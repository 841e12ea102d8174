"""Local state on disk: one SQLite helper under the people store, the audit log and the outbox; private file
permissions.
"""
