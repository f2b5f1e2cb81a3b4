"""The audiences domain: tenants, the audience catalog and the membership store.

Dialects (ODP today) live in sub-packages and translate their wire shapes to and from
this core, which knows nothing about them.
"""
