"""Great Expectations, loaded with its analytics switched off.

Validation runs on training clusters that often have no route out. GX 1.x reads GX_ANALYTICS_ENABLED
when its analytics module loads, so every module of ours that loads GX imports this one first.
"""
import os

os.environ["GX_ANALYTICS_ENABLED"] = "false"

import great_expectations as gx  # noqa: E402

__all__ = ["gx"]
