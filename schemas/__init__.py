"""The shard contract shared by the pipeline, the validator and the trainer.

This package is the leaf of the import graph: it imports nothing of ours.
"""
