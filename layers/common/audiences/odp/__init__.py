"""The Optimizely Data Platform dialect: its wire shapes, translated to and from the core."""
