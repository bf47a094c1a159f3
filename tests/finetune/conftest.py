"""One torch thread for these tests: their models are tiny, so intra-op threads gain nothing, and on
shared CI cores (other tests running beside them) OpenMP's spinning threads made a run 8x slower."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
