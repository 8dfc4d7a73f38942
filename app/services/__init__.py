"""The service layer: the only code that changes data."""
