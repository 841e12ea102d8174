"""Operator tools run from the CLI: enrolment, doctor, threshold calibration."""
