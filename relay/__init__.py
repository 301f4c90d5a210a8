"""The relay: authenticates sidecars and dashboards, keeps scrollback, fans out output."""
