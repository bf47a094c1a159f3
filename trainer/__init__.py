"""The bundled trainer: Pre-LN MegatronBERT with dynamic WWM+KDM masking over the Parquet shards.

Imports `schemas/` only (DESIGN.md): the shards and manifest are the whole contract with the pipeline.
"""
