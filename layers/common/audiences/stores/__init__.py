"""The only modules that talk to AWS. Services above them hold the rules."""
