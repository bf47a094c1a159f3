"""Fine-tuning and evaluating an encoder on CLUE-style classification tasks (`erlangshen-data finetune`).

Its own package because it sits across the two halves DESIGN.md keeps apart: it turns task text into
ids with the pipeline's tokenizer (`pipeline.tokenize`, `pipeline.vocab`) and trains the trainer's
encoder (`trainer.model`). `trainer/` may import neither `pipeline/` nor task files, and `pipeline/`
knows nothing of torch; so the step that needs both lives here, at the edge, and imports them, never
`apache_beam`. `finetune.tasks` and `finetune.readers` stay free of torch, so the CLI and the
readers' tests load fast.
"""
