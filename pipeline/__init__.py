"""The `prepare` pipeline: pure stage functions, and the Beam edges that wire them."""
