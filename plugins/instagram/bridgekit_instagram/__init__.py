"""Instagram DM channel for bridgekit."""
