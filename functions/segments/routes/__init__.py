"""One Router per API family the management function serves."""
