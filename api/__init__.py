"""Terreau's HTTP layer: validate, authorise, serialise; the domain lives in `carto`."""
