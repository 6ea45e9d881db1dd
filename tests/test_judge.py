"""The judge of answers (service/answer/judge.py) and what uses it: the extractive answerer's sentences and refusals,
citations that quote exactly what an extractive answer says, and the support of an LLM's answer sentences."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from ingest.chunking import chunk_document, split_sentences
from ingest.embedding import LocalEmbedder
from ingest.models import Chunk, Document
from service.answer.citations import Quote, cite_quotes
from service.answer.extractive import choose
from service.answer.judge import (
    FEATURES,
    Judge,
    JudgeModel,
    features,
    focus_weights,
    header_fields,
    is_prose,
    option_entry,
    question_type,
    rarity,
    stem,
)
from service.answer.retrieval import Passage
from tests.conftest import SEED_QUESTION, UNANSWERABLE, make_parts, make_settings
from tests.servers import LiveServer

ARTICLE = Path(__file__).resolve().parent.parent / "seeds" / "000_a0a842ccb2970736.txt"


def passage_of(embedder: LocalEmbedder, text: str, doc_id: str = "doc", start: int = 0, index: int = 0) -> Passage:
    chunk = Chunk(id=f"{doc_id}:{start}", doc_id=doc_id, index=index, start=start, end=start + len(text), text=text,
                  title=doc_id, source=f"{doc_id}.txt")
    vectors, pooled = embedder.embed_with_spans([text], [split_sentences(text)])
    return Passage(chunk=chunk, score=1.0, vector=vectors[0], sentence_vectors=pooled[0])


# --- pure parts (no model) ---------------------------------------------------------------------------------------
def test_words_and_question_types() -> None:
    assert stem("networks") == "network" and stem("corrected") == "correct" and stem("is") == "is"
    assert stem("maintainer") == stem("maintains") == stem("maintainers")  # 'Who maintains X?' ~ 'Maintainer: ...'
    assert stem("answer") == stem("answers") == stem("answered") == stem("answering")
    assert stem("user") != stem("use") and stem("power") == stem("powers") and stem("order") == "order"
    assert stem("ignore") == stem("ignores") == stem("ignoring") == stem("ignored")
    assert stem("wrote") == stem("written") == stem("writes")  # 'Who wrote cut?' ~ 'Written by ...'
    assert stem("case") == stem("cases") and stem("use") == "use"
    assert rarity("the") == 0.0 and rarity("anthropic") > rarity("network") > 0.0 and rarity("zzqqx") == 1.0
    assert question_type("How many people live there?") == "quantity"
    for version in ("Since which kernel version can core dumps be piped?", "httpx minimum python version",
                    "Which RFC defines OpenPGP?", "In which Linux kernel version was epoll introduced?",
                    "What is the latest version of GNU grep?", "which python versions are supported"):
        assert question_type(version) == "version", version
    for other in ("What version control system does the project use?", "Which version-control tool?",
                  "What song did Beyonce release in 2003?", "What is the current status of version 2's bug?"):
        assert question_type(other) != "version", other
    assert question_type("when did beyonce start becoming popular") == "time"
    assert question_type("Who corrected Altman?") == "person"
    assert question_type("Where is the Louvre?") == "place"
    assert question_type("What label did the administration give Anthropic?") == "other"


def test_only_prose_is_a_candidate() -> None:
    assert is_prose("Requests officially supports Python 3.10+.")
    assert is_prose("Mailboxes in /var/mail are owned and writable by group mail, as is explained in Debian Policy.")
    assert is_prose("when did beyonce become popular in the late 1990s as lead singer")  # long enough, no stop
    assert is_prose("It is the name\n    of the compression algorithm designed by Igor Pavlov for 7-Zip.")  # wrapped
    for three in ("APT uses CMake.", "Node.js uses V8.", "Requests supports HTTP/2."):  # three words that all say
        assert is_prose(three), three  # something (a word may be more than one token)
    for quoted in ("``Namespace`` is now built on a regular dict.", "Use `pip install blinker` to install it now."):
        assert is_prose(quoted), quoted  # inline code's backticks quote a name: prose (reStructuredText, Markdown)
    for line in ("What happens if you register the same file descriptor on an epoll instance twice?",  # a FAQ's
                 'Why "Narwhals"?', "Installing Requests and Supported Versions", "$ python -m pip install requests",
                 "config = {", "`x = {a: [1]}; y = {b}` or `{c}` as you like.",  # code quoted is still code
                 "ninja -t browse --port=8000 --no-browser mytarget", "Yes it is.", "Inspired by J.S.", "Usage: apt",
                 "Rules-Requires-Root: no | binary-targets | <implementations-keywords>",
                 "│ /dev/urandom │ Returns output from the pool of the kernel when asked │",  # a box-drawn row
                 "try:\n    shell = shellingham.detect_shell()\nexcept shellingham.ShellDetectionFailure:\n"
                 "    shell = provide_default()"):
        assert not is_prose(line), line


def test_a_manual_pages_option_entry_is_a_candidate_without_its_full_stop() -> None:
    """GNU's pages end no option's description with a stop: the entry, option and description, is a candidate;
    an option alone, a command line or code under an option is not."""
    for entry in ("-f, --ignore-case\n              fold lower case to upper case characters",
                  "-k, --key=KEYDEF\n              sort via a key; KEYDEF gives location and type",
                  "-b  or  --backup\n\t  Make\tbackup\tfiles."):
        assert option_entry(entry) and is_prose(entry), entry
    for other in ("--help display this help and exit", "-n\n   foo", "-rf /tmp\n  x = {a: [1, 2]}; y = {b}",
                  "- an item of a list\n  wrapped", "-q, --quiet\n   Is it quiet?"):
        assert not option_entry(other), other
        assert not is_prose(other), other


METADATA = """Metadata-Version: 2.1
Name: pysbd
Version: 0.3.4
Author: Nipun Sadvilkar
Classifier: Programming Language :: Python :: 3
Classifier: Topic :: Text Processing
Requires-Dist: pytest; extra == "test"
Requires-Dist: ruff; extra == "test"
Requires-Python: >=3
Description-Content-Type: text/markdown

pysbd splits text into sentences.

Usage: pysbd
"""


def test_focus_weights_say_what_the_question_asks_about_its_topic() -> None:
    """The topic's word, in every sentence retrieved, weighs nothing; the word that sets the question apart weighs
    more the fewer sentences hold it; a word in none of them weighs 1."""
    sentences = [{"sort", "line"}, {"sort", "ignor", "case"}, {"sort", "revers"}, {"sort", "numer", "case"}]
    weights = focus_weights({"sort": 0.3, "ignor": 0.5, "case": 0.2, "zzq": 1.0}, sentences)
    assert weights["sort"] == 0.0 and weights["zzq"] == 1.0
    assert 0.0 < weights["case"] < weights["ignor"] < 1.0
    assert focus_weights({"sort": 0.3}, []) == {"sort": 1.0}  # no sentence holds any word


def test_the_fields_of_a_header_block_are_candidates_but_not_its_lists_nor_a_lone_field() -> None:
    from ingest.chunking import split_sentences

    sentences = [METADATA[a:b] for a, b in split_sentences(METADATA)]
    fields = {sentences[i] for i in header_fields(sentences)}
    assert {"Author: Nipun Sadvilkar", "Requires-Python: >=3", "Version: 0.3.4"} <= fields
    assert not any(line.startswith("Classifier") for line in fields)  # a key given twice: a list
    # but each requirement is a fact asked about ("does pysbd need ruff?"): a line per item, each a field
    assert {'Requires-Dist: pytest; extra == "test"', 'Requires-Dist: ruff; extra == "test"'} <= fields
    assert "Usage: pysbd" not in fields and not is_prose("Usage: pysbd")  # alone, a field reads like a command
    assert not header_fields(["Note: this is one line.", "Usage: apt", "Some prose follows here."])
    control = ["Source: python-foo", "X-Python3-Version: >= 3.9", "Maintainer: Jane Doe <jane@example.org>"]
    assert header_fields(control) == {0, 1, 2}  # a key with a digit does not break a control block's run
    assert not header_fields(["Q1: Is the library free?", "A1: Yes.", "Q2: Does it run on Windows?", "A2: Yes."])


def test_choose_says_the_best_and_what_clears_the_threshold_of_its_document_in_order() -> None:
    keys = [("a", 50, 0.9), ("a", 10, 0.6), ("b", 0, 0.8), ("a", 30, 0.2), ("a", 70, 0.55)]
    assert choose(keys, 0, 0.5, 4) == [1, 0, 4]  # document order; b is another document; 0.2 is below
    assert choose(keys, 0, 0.5, 2) == [1, 0]  # the two most probable, still in document order
    assert choose(keys, 0, 0.95, 4) == [0]  # the best is always said


def test_the_packaged_model_loads_with_its_recipe() -> None:
    model = JudgeModel.load()
    assert model.sentence.names == FEATURES
    assert 0 < model.sentence_threshold < 1 and 0 < model.refuse_threshold < 1
    recipe = model.recipe
    assert recipe["name"] and recipe["feature_version"] and recipe["sets"] and recipe["encoder"]
    # the answerable model reads the question features its file names, and no others
    data = model.to_json()
    assert JudgeModel.from_json(data).answerable.names == tuple(data["answerable"]["features"])
    data["answerable"]["features"] = ["bias", "moon_phase"]
    with pytest.raises(ValueError, match="moon_phase"):
        JudgeModel.from_json(data)


def test_the_calibration_keeps_the_rankers_order_and_older_model_files_are_refused_with_the_fix() -> None:
    """The probability said is the ranker's score calibrated: within a question it rises with the score (the
    packaged weights of the score and of its gap to the best add up to a positive slope), so the sentence said
    is the ranker's best. A model file of another feature version, or whose sentence model lacks a part, is
    refused with what to do."""
    from service.evaluation.training import slope

    model = JudgeModel.load()
    assert slope(model.sentence.calibration) > 0
    rows = np.random.default_rng(0).normal(size=(25, len(FEATURES))).astype(np.float32)
    ranked = np.argsort(-model.sentence.ranker.score(rows))
    assert np.all(np.diff(model.sentence.predict(rows)[ranked]) <= 0)  # (ties where float32 saturates)
    assert int(np.argmax(model.sentence.predict(rows))) == int(ranked[0])
    old = {**model.to_json(), "feature_version": "7"}
    with pytest.raises(ValueError, match="feature version 7.*reads version 8.*train-judge"):
        JudgeModel.from_json(old)
    partial = model.to_json()
    del partial["sentence"]["calibration"]
    with pytest.raises(ValueError, match="lacks calibration.*train-judge"):
        JudgeModel.from_json(partial)


def test_quotes_are_cited_by_construction() -> None:
    """Sentences that wrap lines, repeat words, end in a version or an abbreviation: each citation is exactly
    the span the extractive answer says, never re-resolved by word overlap."""
    text = ("Requests is one of the most downloaded Python packages today.\nRequests officially supports Python "
            "3.10+. It works with the\nU.S. mirrors of PyPI. Requests, requests, requests: it is\nvery popular.")
    chunk = Chunk(id="c1", doc_id="d", index=0, start=40, end=40 + len(text), text=text, title="t", source="s")
    wanted = [text.index("Requests officially"), text.index("Requests, requests")]
    spans = [span for span in split_sentences(text) if span[0] in wanted]
    assert len(spans) == 2
    quotes = [Quote(("" if i == 0 else " ") + text[a:b] + " [1]", 0, a, b) for i, (a, b) in enumerate(spans)]
    checked = cite_quotes(quotes, [chunk])
    assert [(c.start - 40, c.end - 40) for c in checked.citations] == spans
    assert [c.quote for c in checked.citations] == [text[a:b] for a, b in spans]
    assert [s.text for s in checked.sentences] == [c.quote for c in checked.citations]
    assert checked.text == f"{text[spans[0][0]:spans[0][1]]} [1] {text[spans[1][0]:spans[1][1]]} [2]"
    assert all(s.supported for s in checked.sentences)


# --- with the model ----------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("question", "answer", "unrelated"), [
    ("What label did the Trump administration give Anthropic?", "supply chain risk", "ChatGPT uninstalls spiked"),
    ("Who corrected Sam Altman's statement about the NATO contract?", "spokeswoman corrected",
     "Subscribe to our free newsletter"),
    ("Which app surged to the top of download charts?", "Claude app surged", "Subscribe to our free newsletter"),
])
def test_the_answering_sentence_ranks_first_and_an_unrelated_one_falls_below(
        embedder: LocalEmbedder, question: str, answer: str, unrelated: str) -> None:
    document = Document(id="article", title="article", source="article.txt", text=ARTICLE.read_text())
    passages = [passage_of(embedder, chunk.text, "article", chunk.start, chunk.index)
                for chunk in chunk_document(document, embedder.count_tokens, 200)]
    judge = Judge()
    judgement = judge.score(question, embedder.embed([question])[0], passages)
    best = judgement.best
    assert best is not None and answer in best.text
    other = next(c for c in judgement.candidates if unrelated in c.text)
    assert other.probability < judge.model.sentence_threshold and other.probability < best.probability


@pytest.mark.slow
def test_features_read_the_vectors_the_passages_carry(embedder: LocalEmbedder) -> None:
    passage = passage_of(embedder, "Zebras have stripes. Each zebra has its own pattern of black and white stripes.")
    found = features("What pattern do zebras have?", embedder.embed(["What pattern do zebras have?"])[0], [passage])
    assert [c.text for c in found.items] == ["Each zebra has its own pattern of black and white stripes."]
    assert found.rows.shape == (1, len(FEATURES))
    header = passage_of(embedder, METADATA)
    found = features("Who wrote pysbd?", embedder.embed(["Who wrote pysbd?"])[0], [header])
    said = {c.text: row[FEATURES.index("field")] for c, row in zip(found.items, found.rows, strict=True)}
    assert said["Author: Nipun Sadvilkar"] == 1.0 and said["pysbd splits text into sentences."] == 0.0
    # 'What is pysbd?': the `Name: pysbd` field says nothing the question does not (an echo); for 'Which Python
    # does pysbd require?' the field that holds the question's rarer words covers most of its focus
    found = features("What is pysbd?", embedder.embed(["What is pysbd?"])[0], [header])
    echo = {c.text: row[FEATURES.index("echo")] for c, row in zip(found.items, found.rows, strict=True)}
    assert echo["Name: pysbd"] == 1.0 and echo["pysbd splits text into sentences."] == 0.0
    found = features("Which Python does pysbd require?", embedder.embed(["Which Python does pysbd require?"])[0],
                     [header])
    focus = {c.text: row[FEATURES.index("focus_s")] for c, row in zip(found.items, found.rows, strict=True)}
    assert focus["Requires-Python: >=3"] == max(focus.values()) > focus["Name: pysbd"]
    faq = passage_of(embedder, "Can zebras swim across rivers? Yes, zebras swim well and cross rivers in herds. "
                               "They live in Africa.")
    found = features("Can a zebra swim?", embedder.embed(["Can a zebra swim?"])[0], [faq])
    column = {c.text: row[FEATURES.index("faq")] for c, row in zip(found.items, found.rows, strict=True)}
    assert list(column) == ["Yes, zebras swim well and cross rivers in herds.", "They live in Africa."]  # no question
    assert column["Yes, zebras swim well and cross rivers in herds."] > 0.5  # the question before it is the user's
    assert column["They live in Africa."] == 0.0
    with pytest.raises(ValueError, match="no sentence vectors"):
        features("x", np.zeros(384, np.float32), [Passage(chunk=passage.chunk, score=1.0)])


@pytest.mark.slow
def test_answers_carry_confidence_and_a_refusal_carries_closest(seeded_parts) -> None:
    answered = seeded_parts.pipeline.ask(SEED_QUESTION)
    assert not answered.refused and answered.closest is None
    assert any("unclassified" in c.quote for c in answered.citations)
    assert 0.0 < answered.confidence <= 1.0
    for sentence, citation in zip(answered.sentences, answered.citations, strict=True):
        assert sentence["text"] == citation.quote  # each marker quotes the sentence it backs
    refused = seeded_parts.pipeline.ask(UNANSWERABLE)
    assert refused.refused and refused.citations == [] and refused.answer == "The sources do not answer this question."
    assert refused.closest is not None and refused.closest_probability is not None
    document = seeded_parts.store.get_document(refused.closest.doc_id)[1]
    assert document[refused.closest.start:refused.closest.end] == refused.closest.quote


@pytest.mark.slow
def test_http_refusal_has_closest_and_no_citations(tmp_path: Path, seeded_settings, embedder) -> None:
    from service.web.app import create_app

    # refused unless its best sentence very likely answers, which a figure the article never gives does not
    settings = seeded_settings.model_copy(update={"judge_refuse_threshold": 0.99})
    question = UNANSWERABLE
    with LiveServer(create_app(settings, make_parts(settings, embedder))) as server:
        body = httpx.post(f"{server.url}/ask", json={"question": question}, timeout=60).json()
    assert body["refused"] is True and body["citations"] == []
    closest = body["closest"]
    assert set(closest) == {"n", "doc_id", "title", "source", "chunk_id", "start", "end", "quote", "page",
                            "probability"}
    assert 0 <= closest["probability"] <= 1 and 0 <= body["confidence"] <= 1 and closest["quote"]


@pytest.mark.slow
def test_an_llm_sentence_without_support_is_unsupported_and_markers_resolve_by_the_judge(llm_server) -> None:
    server, llm = llm_server
    llm.content = ("OpenAI is negotiating a contract to put its AI on NATO's unclassified networks [1]. "
                   "The contract is worth twelve billion dollars and runs until 2040 [1].")
    body = httpx.post(f"{server.url}/ask", json={"question": SEED_QUESTION}, timeout=60).json()
    assert not body["refused"]
    first, second = body["sentences"]
    assert first["supported"] is True and second["supported"] is False
    quote = body["citations"][first["citations"][0] - 1]["quote"]
    assert "unclassified networks" in quote


def test_a_cache_written_before_the_modules_moved_still_loads() -> None:
    """``train-judge --cache`` files pickle classes by module path; those made as service.judge_training and
    service.judge (before service/ had packages) load as the same classes, for train-judge and evals/reader.py."""
    import pickle

    from service.answer.judge import Candidates
    from service.evaluation.training import Example, load_cached

    passage = Passage(chunk=Chunk(id="d:0", doc_id="d", index=0, start=0, end=3, text="Hi.", title="d",
                                  source="d.txt"), score=1.0)
    example = Example("q1", "clapnq", "q1", "Who?", True, ["Hi"], [("d", 0, 3)],
                      Candidates([], np.zeros((0, len(FEATURES)), np.float32)), np.zeros(0, np.float32), [],
                      passages=[passage])
    old = pickle.dumps([example], protocol=0)  # text opcodes: the module paths can be rewritten as they were
    for new_path, old_path in (("service.evaluation.training", "service.judge_training"),
                               ("service.answer.judge", "service.judge"),
                               ("service.answer.retrieval", "service.retrieval")):
        assert new_path.encode() in old
        old = old.replace(new_path.encode(), old_path.encode())
    [loaded] = load_cached(old)
    assert type(loaded) is Example and type(loaded.candidates) is Candidates and loaded.gold == [("d", 0, 3)]
    assert type(loaded.passages[0]) is Passage and loaded.passages[0].chunk.text == "Hi."


@pytest.mark.slow
def test_train_judge_on_a_tiny_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same command that made the packaged model, on a few questions (CI runs this). It never loads the
    packaged model (which a feature change makes stale): here there is none."""
    from click.testing import CliRunner

    from service.answer import judge
    from service.cli import main

    monkeypatch.setattr(judge, "MODEL_FILE", tmp_path / "no-packaged-model.json")

    shared = Path(__file__).resolve().parent.parent.parent / "shared"
    corpus = tmp_path / "corpus.jsonl"
    questions = tmp_path / "questions.jsonl"
    lines = [json.loads(line) for line in (shared / "eval/clapnq/questions.jsonl").read_text().splitlines()[:40]]
    docs = {e["doc"] for q in lines for e in q["evidence"]}
    kept = [line for line in (shared / "eval/clapnq/corpus.jsonl").read_text().splitlines()
            if json.loads(line)["id"] in docs or len(docs) < 0]
    corpus.write_text("\n".join(kept[:30]) + "\n")
    located = {json.loads(line)["id"] for line in kept[:30]}
    asked = [json.dumps(q) for q in lines if all(e["doc"] in located for e in q["evidence"])]
    questions.write_text("\n".join(asked[:20]) + "\n")
    more = tmp_path / "more" / "questions.jsonl"  # the same set's other questions, from another file
    more.parent.mkdir()
    more.write_text("\n".join(asked[20:]) + "\n")
    out = tmp_path / "model.json"
    command = ["train-judge", "--set", f"tiny={corpus},{questions}", "--set", f"tiny={corpus},{more}",
               "--out", str(out), "--data-dir", str(tmp_path / "store"), "--report", str(tmp_path / "r.json"),
               "--cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    model = JudgeModel.load(out)
    assert [(s["name"], s["count"]) for s in model.recipe["sets"]] == [("tiny", 20), ("tiny", len(asked) - 20)]
    assert "top-1 holds an answer" in result.output
    assert "citation precision" in result.output and len(list((tmp_path / "cache").glob("tiny-*.pkl"))) == 2
    assert model.answerable.names == tuple(model.recipe["answerable_features"]) == judge.ANSWERABLE_FEATURES
    assert json.loads((tmp_path / "r.json").read_text())["tiny"]["questions"] > 10
    assert "reader, fold 1/5" in result.output and "reusing" not in result.output

    # again from the cache: the candidates and the readers are reused, and the model is the same
    again = CliRunner().invoke(main, command[:5] + ["--out", str(tmp_path / "again.json")] + command[7:])
    assert again.exit_code == 0, again.output
    assert "readers: reusing" in again.output and "reader, fold" not in again.output
    reused = JudgeModel.load(tmp_path / "again.json")
    assert reused.to_json() == model.to_json()
    assert all(np.array_equal(reused.reader[k], model.reader[k]) for k in model.reader.arrays)  # type: ignore[index]

    # the service serves a model trained this way when told to, and says so when it is missing
    from service.components import load_judge_model
    from service.errors import ConfigError

    assert load_judge_model(make_settings(tmp_path, judge_model=out)).to_json() == model.to_json()
    with pytest.raises(ConfigError, match="missing.json"):
        load_judge_model(make_settings(tmp_path, judge_model=tmp_path / "missing.json"))
    bad = CliRunner().invoke(main, ["train-judge", "--set", "nonsense"])
    assert bad.exit_code == 2 and "NAME=CORPUS,QUESTIONS" in bad.output


def test_a_list_items_first_sentence_is_a_candidate_without_its_full_stop() -> None:
    """A changelog's or a feature list's items end with no stop and may wrap: the marker says they are items, not
    headings or code. Two words (a name), code, a question or a line without a marker are not."""
    from service.answer.judge import list_item

    text = ("v0.7.3\n- perf: improved speed for large inputs (~+20%)\n- Mathias Bynens\n"
            "  * example converters now can handle PGM files\n    with up to 32 bits per pixel\n"
            "12. Windows via CryptoAPI\n- x = {a: [1]}; y = {b: [2]}\n- Is it fast?\nRemove the old loader\n")

    def item(sentence: str) -> bool:
        return list_item(text, text.index(sentence), sentence)

    for yes in ("perf: improved speed for large inputs (~+20%)", "Windows via CryptoAPI",
                "example converters now can handle PGM files\n    with up to 32 bits per pixel"):
        assert item(yes), yes
        assert not is_prose(yes), yes  # what the rule adds
    for no in ("Mathias Bynens", "x = {a: [1]}; y = {b: [2]}", "Is it fast?", "Remove the old loader", "v0.7.3"):
        assert not item(no), no
