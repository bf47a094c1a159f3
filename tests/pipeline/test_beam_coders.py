"""Document batches cross Beam's stage boundaries through their own coders, sized without encoding."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.pipeline_context import PipelineContext

from pipeline.beam_coders import (
    CleanBatch,
    CleanBatchCoder,
    DocumentBatch,
    DocumentBatchCoder,
)
from pipeline.config import PrepareConfig
from pipeline.documents import Document
from pipeline.examples import CleanDocument
from pipeline.prepare import build_prepare
from tests.conftest import SAMPLE_CORPUS


def test_batches_round_trip_as_their_own_type():
    clean = CleanBatch([CleanDocument("a", "x.json", "你好，世界"), CleanDocument("b\0", "", "")])
    documents = DocumentBatch([Document("a", "x.json", "标题", "正文 text")])
    for batch, coder in ((clean, CleanBatchCoder()), (documents, DocumentBatchCoder())):
        decoded = coder.decode(coder.encode(batch))
        assert decoded == batch and type(decoded) is type(batch)
    assert CleanBatchCoder().decode(CleanBatchCoder().encode(CleanBatch())) == []


def test_a_batch_is_sized_from_its_texts_not_by_encoding_it():
    class Unpicklable(CleanDocument):
        def __reduce__(self):
            raise AssertionError("sizing a batch must not encode it")

    batch = CleanBatch([Unpicklable("a", "x.json", "你好"), Unpicklable("b", "x.json", "世界和平")])
    assert CleanBatchCoder().estimate_size(batch) == 3 * 6


def test_prepare_gives_document_batches_their_coders(tmp_path):
    pipeline = beam.Pipeline(options=PipelineOptions([]))
    build_prepare(pipeline, [str(SAMPLE_CORPUS / "*.json")], str(tmp_path / "out"), PrepareConfig())
    proto = pipeline.to_runner_api()
    context = PipelineContext(proto.components)  # reads the coders back as the runner does
    coders = {}
    for transform in proto.components.transforms.values():
        if not transform.subtransforms:
            for tag, pcollection in transform.outputs.items():
                coder_id = proto.components.pcollections[pcollection].coder_id
                coders[(transform.unique_name.removeprefix("prepare_corpus/"), tag)] = context.coders.get_by_id(
                    coder_id)
    main = "None"  # a ParDo's main output
    assert isinstance(coders[("read_and_parse/ParDo(ReadFiles)", main)], DocumentBatchCoder)
    for step in ("clean/ParDo(CleanDocuments)", "dedup_exact/ParDo(KeepFirstOfDuplicates)",
                 "dedup_near/drop_near_duplicates/ParDo(DropNearDuplicates)"):
        assert isinstance(coders[(step, main)], CleanBatchCoder), step
    assert str(coders[("group_identical", main)]) == "TupleCoder[VarIntCoder, IterableCoder[CleanBatchCoder]]"
