"""DirectRunner options: in-process for one worker, one process per worker beyond that."""
from __future__ import annotations

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions


def local_options(workers: int = 1) -> PipelineOptions:
    options = PipelineOptions([])  # never parse sys.argv: the CLI owns the arguments
    options.view_as(StandardOptions).runner = "DirectRunner"
    direct = options.view_as(DirectOptions)
    direct.direct_num_workers = max(1, workers)
    direct.direct_running_mode = "in_memory" if workers <= 1 else "multi_processing"
    return options
