"""The operator console's API: what people see of a tenant, in shapes of our own (no vendor's)."""
