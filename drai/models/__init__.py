"""The DRAI model family: networks, variants as data, losses."""
