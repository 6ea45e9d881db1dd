"""The judge's reader (service/answer/reader.py) and its training (service/evaluation/reader_training.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from service.answer.judge import Judge, JudgeModel, reader_file
from service.answer.reader import Reader, ReaderWeights, read
from service.evaluation import reader_training
from tests.test_training import example


def test_the_numpy_reader_computes_what_the_torch_module_reads_in_a_padded_batch() -> None:
    import torch

    examples = [example(), example(answerable=False)]
    found = reader_training.pieces(examples)
    torch.manual_seed(3)
    module = reader_training.build(found.embeddings, found.rarity)
    weights = reader_training.export(module)
    question, sentences = found.ids[examples[0].id]
    rows = [(*found.ids[e.id], None) for e in examples] + [(question[:2], sentences[:1], None)]  # shorter, fewer
    q, q_mask, s, mask, present, wanted = reader_training.padded(rows)
    with torch.no_grad():
        together = module(q, q_mask, s, mask).numpy()
        alone = [module(*reader_training.padded([row])[:4]).numpy()[0] for row in rows]
    for i, (one_question, its_sentences, _) in enumerate(rows):
        expected = read(weights, one_question, its_sentences)
        assert np.allclose(together[i, :len(its_sentences)], expected, atol=1e-4)
        assert np.allclose(alone[i], expected, atol=1e-4)
        assert int(present[i].sum()) == len(its_sentences) and bool(wanted[i, -1])
    assert read(weights, [7592], []).shape == (0,)


def test_training_targets_the_gold_sentences_and_none_without_them() -> None:
    (asked, gold), (withheld, none) = reader_training.targets(example())
    assert asked == list(range(len(example().candidates.items))) and gold is not None and gold.max() == 1.0
    assert none is None and withheld and all(example().candidates.items[i].doc_id == "b" for i in withheld)
    assert reader_training.targets(example(answerable=False)) == [(asked, None)]


def test_a_few_steps_of_training_move_the_logits_towards_the_gold_sentence() -> None:
    e = example()
    found = reader_training.pieces([e])
    before = reader_training.logits(reader_training.train([e], found, epochs=0), found, [e])[e.id]
    after = reader_training.logits(reader_training.train([e], found, epochs=30), found, [e])[e.id]
    gold = e.candidates.items[int(np.argmax(e.labels))].text
    assert after[gold] - max(after.values()) == 0.0
    assert after[gold] - np.mean(list(after.values())) > before[gold] - np.mean(list(before.values()))


def test_the_packaged_reader_prefers_the_sentence_that_answers_over_one_on_the_topic() -> None:
    reader = Reader(JudgeModel.load().reader)  # type: ignore[arg-type]
    cases = [
        ("Who designed the lighthouse?",
         ["The lighthouse was designed by Alan Stevenson.", "The lighthouse stands on a rocky reef off the coast."]),
        ("When was the bridge opened?",
         ["The bridge was opened to traffic in 1932.", "The bridge crosses the river near the old harbour."]),
        ("How many students attend the university?",
         ["About 28,000 students attend the university.", "The university is known for its medical school."]),
    ]
    for question, (answer, topic) in cases:
        logits = reader(question, [answer, topic])
        assert logits[0] > logits[1], (question, logits)


def test_the_reader_keeps_the_word_pieces_of_recent_sentences_and_reads_the_same() -> None:
    weights = JudgeModel.load().reader
    assert weights is not None
    fresh, cached = Reader(weights), Reader(weights, cache_size=3)
    sentences = ["The bridge was opened to traffic in 1932.", "It crosses the river.", "Its span is 503 metres.",
                 "The bridge crosses the river near the old harbour."]
    first = cached("When was the bridge opened?", sentences[:3])
    again = cached("When was the bridge opened?", sentences[:3])
    assert np.array_equal(first, again) and np.allclose(first, fresh("When was the bridge opened?", sentences[:3]))
    both = cached("When was the bridge opened?", [sentences[3], sentences[0], sentences[0]])
    assert np.allclose(both, fresh("When was the bridge opened?", [sentences[3], sentences[0], sentences[0]]))
    assert len(cached._pieces) == 3 and sentences[1] not in cached._pieces  # the least recently read left first
    tok = fresh.warm()
    assert cached.sentence_pieces(sentences) == [tok.encode(s, add_special_tokens=False).ids for s in sentences]


def test_a_judge_model_is_saved_and_loaded_with_its_reader(tmp_path: Path) -> None:
    model = JudgeModel.load()
    assert model.reader is not None and model.recipe["reader"]["hidden"] == model.reader["table"].shape[1]
    out = tmp_path / "judge.json"
    model.save(out)
    assert reader_file(out) == tmp_path / "judge.reader.npz"
    again = JudgeModel.load(out)
    assert again.reader is not None and np.allclose(again.reader["table"], model.reader["table"], atol=1e-3)
    reader_file(out).unlink()
    with pytest.raises(ValueError, match="reader"):
        JudgeModel.load(out)
    with pytest.raises(ValueError, match="reader"):
        replace(model, reader=None).save(out)
    assert ReaderWeights.load(reader_file(Path(__file__).parent.parent / "service/answer/judge_model.json"))
    with pytest.raises(ValueError, match="reader"):
        Judge(replace(model, reader=None))
