"""Privacy requests: erase, suppress, lift and export a data subject, whichever vendor's API asked."""
