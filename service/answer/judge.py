"""The judge of answers: how likely each candidate sentence, read in its passage, answers the question.

``Judge.score(question, question_vector, passages) -> Judgement``: every sentence of the retrieved passages that
reads as prose (:func:`is_prose`) with the probability that it answers the question; the probability that the
passages answer the question at all; and the ``confidence``, the probability that the best-rated sentence answers
it. The extractive answerer says the sentences whose probability clears ``sentence_threshold`` and refuses when
the passages look unanswering (``refuse_threshold``) unless the confidence is high; the citation checker resolves
an LLM's markers with :meth:`Judge.rater`; ``citeqa eval`` reports the confidence.

How it judges costs no encoder work: a light model over features of each sentence that the retrieval has already
paid for (see :func:`features`): the cosine of the question with the sentence's vector (pooled from its passage's
forward pass, so read in context), with its neighbours and with its passage; the share of the question's words,
weighted by how rare they are in English (``wordfreq``), found in the sentence, in its neighbours and in the
passage; answer-type cues (a number for "how many", a year or month for "when", a new name for "who"/"where");
position; how each compares with the best of the question; and the logit of the reader
(:mod:`service.answer.reader`), which reads the question against the sentence word piece by word piece. Three
models, fitted by ``citeqa train-judge`` (:mod:`service.evaluation.training`), turn them into probabilities: one
per sentence (a listwise-fitted ranking score, calibrated: :class:`SentenceModel`); one per question, that the
passages answer it at all (over the sentences' pointwise probabilities and the best scores and their margins);
and the confidence, that the best sentence answers it (the same, and the second's output). Their weights,
thresholds and the recipe they were trained with live in ``service/answer/judge_model.json``, the reader's
weights beside it (:func:`reader_file`).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunking import item_marker, split_sentences
from service.answer.lexical import tokenize
from service.answer.reader import Reader, ReaderWeights
from service.answer.retrieval import Passage

MODEL_FILE = Path(__file__).with_name("judge_model.json")
MIN_WORDS = 4
# A calibrated confidence of 0.8 means about 80% of such answers cite a sentence that answers: an answer worth
# giving even when the passages as a whole look unlike answering ones (a short question about one long sentence).
ANSWER_CONFIDENCE = 0.8
SUPPORTED = 0.5  # an LLM's answer sentence is supported when its best cited sentence rates at least this
# bump when features() or the models' form change: a model file fitted on other features is refused
FEATURE_VERSION = "8"

Span = tuple[int, int]


@dataclass(frozen=True)
class Candidate:
    """One sentence of one passage, as judged."""

    passage: int  # 0-based position among the passages
    sentence: int  # 0-based position among the passage's sentences
    doc_id: str
    start: int  # offsets in the passage's text (chunk.text[start:end] == text)
    end: int
    text: str
    cosine: float  # cosine(question, sentence)
    probability: float = 0.0  # that it answers the question


@dataclass
class Judgement:
    candidates: list[Candidate] = field(default_factory=list)
    answerable: float = 0.0  # that the passages answer the question
    confidence: float = 0.0  # that the best candidate answers the question

    @property
    def best(self) -> Candidate | None:
        return max(self.candidates, key=lambda c: (c.probability, -c.passage, -c.start), default=None)


# --- words -------------------------------------------------------------------------------------------------------
_SUFFIXES = ("ings", "ing", "edly", "ed", "ies", "es", "s", "ly")
# the commonest English verbs whose past forms no suffix rule finds ('Who wrote cut?' ~ 'Written by ...'), and a
# few plurals of the same kind; forms as common in another sense ('left', 'saw', 'rose', 'fell', 'shot', 'drew')
# are left out
_IRREGULAR = {
    **dict.fromkeys(("wrote", "written"), "write"), "made": "make", "ran": "run",
    **dict.fromkeys(("began", "begun"), "begin"), "found": "find", "built": "build",
    **dict.fromkeys(("chose", "chosen"), "choose"), **dict.fromkeys(("gave", "given"), "give"),
    **dict.fromkeys(("took", "taken"), "take"), **dict.fromkeys(("knew", "known"), "know"), "held": "hold",
    "sent": "send", "spent": "spend", "told": "tell", "thought": "think", "bought": "buy", "brought": "bring",
    "taught": "teach", "caught": "catch", "won": "win", "lost": "lose", "meant": "mean", "paid": "pay",
    "said": "say", "sold": "sell", "stood": "stand", "understood": "understand", "went": "go", "gone": "go",
    "came": "come", "became": "become", **dict.fromkeys(("grew", "grown"), "grow"),
    "drawn": "draw", **dict.fromkeys(("threw", "thrown"), "throw"),
    "risen": "rise", "fallen": "fall",
    **dict.fromkeys(("broke", "broken"), "break"), **dict.fromkeys(("spoke", "spoken"), "speak"),
    **dict.fromkeys(("froze", "frozen"), "freeze"), **dict.fromkeys(("drove", "driven"), "drive"),
    **dict.fromkeys(("got", "gotten"), "get"), **dict.fromkeys(("hid", "hidden"), "hide"), "seen": "see",
    "fought": "fight", "sought": "seek", "struck": "strike", "led": "lead",
    "children": "child", "men": "man", "women": "woman", "feet": "foot", "teeth": "tooth", "mice": "mouse",
}


def stem(word: str) -> str:
    """A crude stem, enough for 'corrected' ~ 'correct', 'networks' ~ 'network', 'maintainer' ~ 'maintains',
    'answer' ~ 'answered', 'ignore' ~ 'ignores' and 'wrote' ~ 'written': an irregular form to its base, one
    suffix stripped, then an 'er' left on a long word ('maintainers' -> 'maintain', 'answering' -> 'answ'; not
    'user', 'power', 'order') and a final 'e' (the base of 'ignoring' and 'ignores' is 'ignor')."""
    word = _IRREGULAR.get(word, word)
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 5 and word.endswith("er"):
        word = word[:-2]
    return word[:-1] if len(word) >= 5 and word.endswith("e") else word


@functools.lru_cache(maxsize=65536)
def rarity(word: str) -> float:
    """How much a word says, from its frequency in English: 0 for the commonest words, 1 for unknown ones
    (names, numbers, rare terms). ``wordfreq``'s Zipf scale runs from ~8 ('the') down to 0 (unseen)."""
    from wordfreq import zipf_frequency

    return min(1.0, max(0.0, (7.0 - zipf_frequency(word, "en")) / 6.0))


def weighted_words(text: str) -> dict[str, float]:
    """Stemmed content words of ``text`` with their rarity (the largest, when several words share a stem)."""
    out: dict[str, float] = {}
    for word in tokenize(text):
        key = stem(word)
        out[key] = max(out.get(key, 0.0), rarity(word))
    return out


def coverage(wanted: dict[str, float], found: set[str]) -> float:
    """The rarity-weighted share of ``wanted`` words that are among ``found`` (0 when nothing is wanted)."""
    total = sum(wanted.values())
    if total <= 0:
        return 0.0
    return sum(weight for word, weight in wanted.items() if word in found) / total


def focus_weights(wanted: dict[str, float], sentences: Sequence[set[str]]) -> dict[str, float]:
    """The question's words weighted by how few of the retrieved sentences hold them: what the question asks about
    its topic, not the topic itself. The topic's words ('sort', 'Click', the article's subject) are in most of the
    sentences retrieved, so they weigh little; the words that set the question apart from the others about the same
    topic ('ignore case') weigh most. A word in none of them weighs 1 (so every word, when there are no sentences),
    in all of them 0."""
    top = math.log1p(len(sentences)) or 1.0
    return {word: 1.0 - math.log1p(sum(word in words for words in sentences)) / top for word in wanted}


_CODE_CHARS = frozenset("{}[]<>=|$\\`*#;~^")
MAX_CODE_SHARE = 0.05  # of a sentence's visible characters; more reads as code, markup or a table row
_STOP = re.compile(r"[.!?][\"'”’)\]]*$")
_ASKS = re.compile(r"\?[\"'”’)\]]*$")


def ends_like_sentence(text: str) -> bool:
    """Whether ``text`` ends with a full stop, a question or an exclamation mark (a closing quote may follow)."""
    return bool(_STOP.search(text.rstrip()))


def asks(text: str) -> bool:
    """Whether ``text`` ends with a question mark (a closing quote may follow): a question."""
    return bool(_ASKS.search(text.rstrip()))


# a command-line option opening a line: `-f`, `--ignore-case`, `-d[n]`
_OPTION = re.compile(r"[ \t]*--?[A-Za-z0-9]")


# inline code in prose, `name` (Markdown) or ``name`` (reStructuredText): its backticks quote a name, as quotation
# marks would, and are not counted as code (what they quote still is)
_INLINE_CODE = re.compile(r"(``?)(?=[^`\s])([^`\n]+?)(?<=[^`\s])\1(?!`)")


def _code_share(text: str) -> float:
    """The share of ``text``'s visible characters that code, markup or a table's box-drawing lines use; the
    backticks of inline code are not counted (``Namespace`` is now built on a regular dict. reads as prose)."""
    visible = [char for char in _INLINE_CODE.sub(r"\2", text) if not char.isspace()]
    return sum(char in _CODE_CHARS or "\u2500" <= char <= "\u257f" for char in visible) / max(1, len(visible))


def option_entry(sentence: str) -> bool:
    """Whether a sentence is a manual page's entry for one option: the option on its first line and, on the lines
    under it, what it does in at least three words that read as prose (``-f, --ignore-case`` over ``fold lower
    case to upper case characters``). GNU's pages end none of these with a full stop; they are what is asked of
    a manual page ("how do I make sort ignore case?"), so they are candidates although they end like no sentence."""
    first, _, rest = sentence.strip().partition("\n")
    if not _OPTION.match(first) or len(rest.split()) < 3 or asks(sentence):
        return False
    return _code_share(rest) <= MAX_CODE_SHARE


def is_prose(sentence: str) -> bool:
    """Whether a sentence can be said as an answer: at least ``MIN_WORDS`` words (or three that all say
    something, like ``APT uses CMake.``, not ``Yes it is.``), not a question, ending like a sentence (or long
    enough, on one line, to be one whose stop was lost), and not code or a table row (few of the characters code
    and markup use, and none of the box-drawing lines of a table a manual page draws).
    Headings, command lines, option tables and bare code are left out: they are never the answer a reader wants
    quoted, and they crowd the sentences that are. A manual page's entry for an option (:func:`option_entry`)
    is in, with or without its full stop."""
    words = sentence.split()
    if asks(sentence):
        return False  # a question (a FAQ's, a heading's) never answers one: no gold sentence of any set is one
    if len(words) < MIN_WORDS and not (len(words) == 3 and all(tokenize(word) for word in words)):
        return False
    if option_entry(sentence):
        return True  # an option over what it does (its first line, the option, may be all code characters)
    if not ends_like_sentence(sentence) and (len(words) < 8 or "\n" in sentence.strip()):
        return False  # no stop: a heading, a command, or lines of code (a sentence wrapped over lines ends)
    return _code_share(sentence) <= MAX_CODE_SHARE


ITEM_WORDS = 3  # an item of fewer words is a name or a term (`Mathias Bynens`), not a fact


def list_item(text: str, start: int, sentence: str) -> bool:
    """Whether the sentence at ``start`` of ``text`` is the first sentence of a list item worth quoting: its line
    opens with a list marker right before it (:func:`ingest.chunking.item_marker`, the splitter's own) and it
    says at least ``ITEM_WORDS`` words that are no code. A changelog's and a feature list's items end with no
    full stop (``perf: improved speed for large inputs (~+20%)``, ``Windows via CryptoAPI``) and may wrap over
    lines; the marker says they are items, not headings nor code, so
    :func:`is_prose`'s rule for a line without a stop does not apply to them."""
    if item_marker(text, start) is None:
        return False
    words = sentence.split()
    return len(words) >= ITEM_WORDS and not asks(sentence) and _code_share(sentence) <= MAX_CODE_SHARE


# a `Key: value` line of a header block (package metadata, a control file, mail headers): one to three words of
# key (letters and digits: `X-Python3-Version`, `ISO 639-3`), a value on the same line
_FIELD = re.compile(r"[A-Z][A-Za-z0-9]*(?:[- ][A-Za-z0-9]+){0,2}: +\S[^\n]*")
FIELD_RUN = 3  # consecutive field lines that make a header block
FIELD_WORDS = 15  # a field whose value says more than this is a list or a text, not a fact
# keys given once a line per item, each item a fact asked about ("which numpy does it need?"): a package's
# requirements (`Requires-Dist: numpy>=1.25`), unlike `Classifier` or `Project-URL` lists
LISTED_FACTS = frozenset({"requires-dist"})


def header_fields(sentences: Sequence[str]) -> set[int]:
    """The indices of ``sentences`` that are fields of a header block worth quoting (``Author: Philip A. Nelson``,
    ``Requires-Python: >=3.10``): lines in a run of at least ``FIELD_RUN`` `Key: value` lines whose key is the
    only one of its name in the run (``Classifier`` or ``Project-URL`` given ten times are lists, not facts;
    a key of :data:`LISTED_FACTS` is the exception, ``Requires-Dist`` a line per requirement) and whose value
    is short. Alone, such a line reads like a heading or a command
    (``Usage: apt``), which :func:`is_prose` leaves out."""
    # (a question is never a field: `Q1: Is it free?` lines of a FAQ are not a header block's)
    shaped = [bool(_FIELD.fullmatch(sentence.strip())) and not asks(sentence) for sentence in sentences]
    out: set[int] = set()
    start = 0
    while start < len(shaped):
        end = start
        while end < len(shaped) and shaped[end]:
            end += 1
        if end - start >= FIELD_RUN:
            keys = [sentences[i].strip().split(":", 1)[0].lower() for i in range(start, end)]
            out.update(i for i, key in zip(range(start, end), keys, strict=True)
                       if (keys.count(key) == 1 or key in LISTED_FACTS)
                       and len(sentences[i].split(":", 1)[1].split()) <= FIELD_WORDS)
        start = end + 1
    return out


# --- answer types ------------------------------------------------------------------------------------------------
QUESTION_TYPES = ("version", "quantity", "time", "person", "place", "reason", "other")
_QTYPE = [
    # software documents' most common question: a version, a release or a standard's number
    # (not "what song did she release": a verb; not "what version control": a tool; not "the current status of
    # version 2")
    ("version", re.compile(r"\b(which|what) (\w+ ){0,3}(versions?|rfcs?)\b(?![\s-]+control\b)"
                           r"|\b(which|what) (\w+ ){0,2}release\b|\bsince (when|which)\b"
                           r"|\b(minimum|latest|newest|oldest|current)( \w+){0,2} versions?\b(?! ?\d)"
                           r"|\bversions?\b.*\b(added|introduced|required|removed|dropped)\b")),
    ("quantity", re.compile(r"\bhow (many|much|long|old|far|large|big|tall|high|often)\b|\bwhat (number|percent"
                            r"|percentage|amount|size|population)\b")),
    ("time", re.compile(r"\bwhen\b|\b(what|which) (year|date|time|century|decade|month|day|period|era)\b")),
    ("person", re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which) (person|people|man|woman|actor|singer|player"
                          r"|president|king|queen|author|company|team|band|group)\b")),
    ("place", re.compile(r"\bwhere\b|\b(what|which) (country|city|state|place|location|region|town|continent)\b")),
    ("reason", re.compile(r"\bwhy\b|\bwhat (caused|causes|led to)\b|\breason\b")),
]
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                     r"fifty|hundred|thousand|million|billion|dozen|half|several)\b", re.IGNORECASE)
_TIME = re.compile(r"\b(1\d{3}|20\d{2})s?\b|\b(january|february|march|april|may|june|july|august|september|"
                   r"october|november|december|century|centuries|decade|monday|tuesday|wednesday|thursday|friday|"
                   r"saturday|sunday|ago|era|age|period|spring|summer|autumn|winter|morning|evening|night|midnight|"
                   r"noon|daily|weekly|monthly|yearly|annually|hourly)\b", re.IGNORECASE)
_REASON = re.compile(r"\b(because|due to|since|as a result|so that|in order to|led to|leads to|caused|causes|"
                     r"result of|reason)\b", re.IGNORECASE)
_CAPITAL = re.compile(r"(?<=\S\s)([A-Z][\w'-]+)")


def question_type(question: str) -> str:
    lowered = question.lower()
    for name, pattern in _QTYPE:
        if pattern.search(lowered):
            return name
    return "other"


def new_names(sentence: str, question_words: set[str]) -> int:
    """Capitalised words inside the sentence (not its first word) that the question does not name."""
    return sum(1 for word in _CAPITAL.findall(sentence) if stem(word.lower()) not in question_words)


# --- features ----------------------------------------------------------------------------------------------------
FEATURES = (
    "bias", "cos_s", "cos_p", "gap_s", "gap_s_in_p", "gap_p", "cos_prev", "cos_next", "has_prev", "has_next",
    "first", "rel_pos", "doc_start", "rank_inv", "lex_s", "lex_ctx", "lex_p", "lex_gap", "miss_s_in_p", "novel",
    "log_words", "has_number", "has_time", "has_names", "has_reason",
    *(f"q_{name}" for name in QUESTION_TYPES),
    "fit_quantity", "fit_time", "fit_person", "fit_place", "fit_reason", "reader", "reader_gap", "field",
    "fit_version", "faq", "focus_s", "focus_p", "echo",
)


@dataclass(frozen=True)
class Candidates:
    """The candidate sentences of a question and their feature rows (one row each, columns :data:`FEATURES`)."""

    items: list[Candidate]
    rows: np.ndarray  # float32, (len(items), len(FEATURES))
    # per passage: the rarity of the rarest question word it lacks (0 when it has them all)
    missing: list[float] = field(default_factory=list)


def _sentence_vectors(passage: Passage, spans: list[Span]) -> np.ndarray:
    vectors = passage.sentence_vectors
    if vectors is None or len(vectors) != len(spans):
        raise ValueError(f"passage {passage.chunk.id} carries no sentence vectors for its {len(spans)} sentences")
    return np.asarray(vectors, dtype=np.float32)


# how a sentence reads against the question: (question, sentences) -> one logit each (a Reader, or a lookup)
Read = Callable[[str, Sequence[str]], Any]


def features(question: str, question_vector: np.ndarray, passages: Sequence[Passage],
             read: Read | None = None) -> Candidates:
    """Every candidate sentence of ``passages`` (:func:`is_prose`, :func:`header_fields`, :func:`list_item`) and
    its feature row; the reader's columns are 0 without ``read``."""
    q_words = weighted_words(question)
    q_stems = set(q_words)
    q_type = question_type(question)
    items: list[Candidate] = []
    raw: list[list[float]] = []
    missing: list[float] = []
    split = [split_sentences(passage.chunk.text) for passage in passages]
    words_of = [[set(weighted_words(passage.chunk.text[a:b])) for a, b in spans]
                for passage, spans in zip(passages, split, strict=True)]
    focus = focus_weights(q_words, [words for passage_words in words_of for words in passage_words])
    for p_index, passage in enumerate(passages):
        text = passage.chunk.text
        spans = split[p_index]
        if not spans:
            continue
        vectors = _sentence_vectors(passage, spans)
        cosines = vectors @ question_vector
        p_cos = float(passage.vector @ question_vector) if passage.vector is not None else float(cosines.max())
        sentence_words = words_of[p_index]
        fields = header_fields([text[a:b] for a, b in spans])
        passage_words = set().union(*sentence_words)
        lex_p = coverage(q_words, passage_words)
        while len(missing) < p_index:
            missing.append(1.0)
        missing.append(max((w for word, w in q_words.items() if word not in passage_words), default=0.0))
        for s_index, (start, end) in enumerate(spans):
            sentence = text[start:end]
            words = len(sentence.split())
            if not (is_prose(sentence) or s_index in fields or list_item(text, start, sentence)):
                continue
            previous = cosines[s_index - 1] if s_index > 0 else None
            following = cosines[s_index + 1] if s_index + 1 < len(spans) else None
            context = set(sentence_words[s_index])
            for neighbour in (s_index - 1, s_index + 1):
                if 0 <= neighbour < len(spans):
                    context |= sentence_words[neighbour]
            lex_s = coverage(q_words, sentence_words[s_index])
            own = sentence_words[s_index]
            names = new_names(sentence, q_stems) > 0  # a who's or a where's answer: a name the question lacks
            cues = {
                "version": any(char.isdigit() for char in sentence),
                "quantity": bool(_NUMBER.search(sentence)),
                "time": bool(_TIME.search(sentence)),
                "person": names,
                "place": names,
                "reason": bool(_REASON.search(sentence)),
            }
            items.append(Candidate(p_index, s_index, passage.chunk.doc_id, start, end, sentence,
                                   float(cosines[s_index])))
            raw.append([
                1.0, float(cosines[s_index]), p_cos, 0.0, 0.0, 0.0,
                float(previous) if previous is not None else 0.0, float(following) if following is not None else 0.0,
                float(previous is not None), float(following is not None),
                float(s_index == 0), s_index / max(1, len(spans) - 1), float(s_index == 0 and passage.chunk.index == 0),
                1.0 / (p_index + 1), lex_s, coverage(q_words, context), lex_p, lex_p - lex_s,
                coverage(q_words, passage_words - own), len(own - q_stems) / max(1, len(own)),
                math.log1p(words), float(cues["quantity"]), float(cues["time"]), float(cues["person"]),
                float(cues["reason"]),
                *(float(q_type == name) for name in QUESTION_TYPES),
                *(float(q_type == name and cues[name]) for name in ("quantity", "time", "person", "place", "reason")),
                0.0, 0.0,  # the reader's, below: one call for all candidates
                float(s_index in fields), float(q_type == "version" and cues["version"]),
                # the first sentence after a question the document asks (a FAQ's answer): how like the user's
                # question that one is
                float(cosines[s_index - 1]) if s_index > 0 and asks(text[slice(*spans[s_index - 1])])
                else 0.0,
                coverage(focus, own), coverage(focus, passage_words),
                # says nothing the question does not (`Name: tenacity` for 'What is tenacity?'; a field by its value)
                float(not (set(weighted_words(sentence.split(":", 1)[1])) if s_index in fields else own) - q_stems),
            ])
    rows = np.asarray(raw, dtype=np.float32).reshape(len(raw), len(FEATURES))
    if len(items):
        column = {name: i for i, name in enumerate(FEATURES)}
        best_s = rows[:, column["cos_s"]].max()
        best_p = rows[:, column["cos_p"]].max()
        rows[:, column["gap_s"]] = rows[:, column["cos_s"]] - best_s
        rows[:, column["gap_p"]] = rows[:, column["cos_p"]] - best_p
        if read is not None:
            logits = np.asarray(read(question, [item.text for item in items]), dtype=np.float32)
            rows[:, column["reader"]] = logits
            rows[:, column["reader_gap"]] = logits - logits.max()
        by_passage: dict[int, float] = {}
        for item, row in zip(items, rows, strict=True):
            by_passage[item.passage] = max(by_passage.get(item.passage, -1.0), float(row[column["cos_s"]]))
        for i, item in enumerate(items):
            rows[i, column["gap_s_in_p"]] = rows[i, column["cos_s"]] - by_passage[item.passage]
    return Candidates(items, rows, missing)


QUESTION_FEATURES = ("bias", "p1", "p2", "logit_p1", "logit_gap", "p_sum", "cos_s", "cos_p", "lex_s", "lex_p",
                     "doc_share", "cos_s_gap", "cos_p_gap", "rarest_missing", "best_doc_missing")
# what the answerable model reads by default: the best sentence's cosine and probability and the margins to the
# second-best sentence and passage, chosen on held-out folds and real documents (evals/README.md); a model file
# names its own, any of QUESTION_FEATURES
ANSWERABLE_FEATURES = ("bias", "cos_s", "p1", "cos_s_gap", "cos_p_gap")
CONFIDENCE_FEATURES = (*QUESTION_FEATURES, "logit_answerable", "logit_said")


def question_features(candidates: Candidates, probabilities: np.ndarray) -> np.ndarray:
    """The question-level row the confidence model reads: the best probabilities and scores of its candidates."""
    if not len(candidates.items):
        return np.zeros(len(QUESTION_FEATURES), dtype=np.float32)
    column = {name: i for i, name in enumerate(FEATURES)}
    order = np.argsort(-probabilities, kind="stable")
    p1 = float(probabilities[order[0]])
    p2 = float(probabilities[order[1]]) if len(order) > 1 else 0.0
    best = candidates.items[int(order[0])]
    same_doc = sum(float(p) for item, p in zip(candidates.items, probabilities, strict=True)
                   if item.doc_id == best.doc_id)
    rows = candidates.rows
    cos_s = np.sort(rows[:, column["cos_s"]])[::-1]
    cos_p = np.unique(rows[:, column["cos_p"]])[::-1]
    return np.asarray([
        1.0, p1, p2, float(_logit(p1)), float(_logit(p1) - _logit(p2)), float(probabilities.sum()),
        float(cos_s[0]), float(cos_p[0]),
        float(rows[:, column["lex_s"]].max()), float(rows[:, column["lex_p"]].max()),
        same_doc / max(1e-6, float(probabilities.sum())),
        float(cos_s[0] - cos_s[1]) if len(cos_s) > 1 else 0.0, float(cos_p[0] - cos_p[1]) if len(cos_p) > 1 else 0.0,
        min(candidates.missing, default=1.0), candidates.missing[best.passage] if candidates.missing else 1.0,
    ], dtype=np.float32)


def answerable_row(row: np.ndarray, names: Sequence[str] = ANSWERABLE_FEATURES) -> np.ndarray:
    """The columns ``names`` of a :func:`question_features` row (or rows): what the answerable model reads."""
    return row[..., [QUESTION_FEATURES.index(name) for name in names]]


def _logit(p: Any) -> Any:
    """log(p / (1 - p)) of a probability or an array of them, clipped to [1e-6, 1 - 1e-6]."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def confidence_rows(rows: np.ndarray, answerable: np.ndarray, said: np.ndarray) -> np.ndarray:
    """What the confidence model reads (:data:`CONFIDENCE_FEATURES`), one row a question: its
    :func:`question_features` row, the logit of the probability that it is answerable and the logit of the
    probability of the sentence said (the ranker's best)."""
    return np.column_stack([rows, _logit(answerable), _logit(said)]).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


# --- the model ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Linear:
    """A logistic model over standardised features: p = sigmoid(((x - mean) / scale) @ weights)."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def score(self, rows: np.ndarray) -> np.ndarray:
        """The linear part: ((x - mean) / scale) @ weights."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        return (((rows - self.mean) / self.scale) @ self.weights).astype(np.float32)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return sigmoid(self.score(rows)).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.names), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any], names: tuple[str, ...]) -> Linear:
        if tuple(data["features"]) != names:
            raise ValueError("the judge model was fitted on other features; run `citeqa train-judge`")
        return cls(names, np.asarray(data["mean"], np.float32), np.asarray(data["scale"], np.float32),
                   np.asarray(data["weights"], np.float32))


# what the sentence model's calibration reads of a candidate: its ranking score and the score's gap to the best
# of its question
CALIBRATION_FEATURES = ("bias", "score", "score_gap")


@dataclass(frozen=True)
class SentenceModel:
    """P(this sentence answers the question), for the candidates of one question. ``ranker`` is a linear score
    over :data:`FEATURES` fitted to rank a question's candidates (listwise: the answering sentence against the
    others of the same question, :func:`service.evaluation.training.fit_listwise`), and ``calibration`` a logistic
    model over that score and its gap to the question's best (:data:`CALIBRATION_FEATURES`) that turns it into the
    probability (:meth:`predict`): the order is the ranker's. ``pointwise`` is the logistic model over the same
    features fitted on every candidate of every question, answerable or not, so it also says how answer-like a
    sentence is at all: the question-level models (:meth:`JudgeModel.judge`) and the citation checker's rater
    (:meth:`Judge.rater`) read its probabilities. Fitted pointwise, one model ranked worse (top-1 -0.015 to -0.019
    on every set's held-out folds, evals/README.md); fitted listwise, one model could not tell an unanswered
    question (AUROC -0.1 on our documents)."""

    ranker: Linear
    pointwise: Linear
    calibration: Linear

    @property
    def names(self) -> tuple[str, ...]:
        return self.ranker.names

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Each candidate's probability; ``rows`` are one question's candidates (the gap is to their best)."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        return self.calibration.predict(calibration_rows(self.ranker.score(rows)))

    def to_json(self) -> dict[str, Any]:
        return {"ranker": self.ranker.to_json(), "pointwise": self.pointwise.to_json(),
                "calibration": self.calibration.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceModel:
        missing = [key for key in ("ranker", "pointwise", "calibration") if key not in data]
        if missing:
            raise ValueError(f"its sentence model lacks {', '.join(missing)} (an older form); "
                             "run `citeqa train-judge`")
        return cls(Linear.from_json(data["ranker"], FEATURES), Linear.from_json(data["pointwise"], FEATURES),
                   Linear.from_json(data["calibration"], CALIBRATION_FEATURES))


def calibration_rows(score: np.ndarray) -> np.ndarray:
    """The rows :attr:`SentenceModel.calibration` reads, from one question's candidates' ranking scores."""
    score = np.asarray(score, dtype=np.float32)
    return np.column_stack([np.ones_like(score), score, score - score.max()]).astype(np.float32)


@dataclass(frozen=True)
class JudgeModel:
    sentence: SentenceModel  # P(this sentence answers the question)
    answerable: Linear  # P(the passages answer the question at all)
    confidence: Linear  # P(the best sentence answers it)
    sentence_threshold: float  # a sentence is said when its probability is at least this
    refuse_threshold: float  # below this probability of being answerable, refuse...
    recipe: dict[str, Any]
    answer_confidence: float = ANSWER_CONFIDENCE  # ...unless the confidence is at least this
    reader: ReaderWeights | None = field(default=None, repr=False, compare=False)  # the sentence model's reader

    def answers(self, answerable: float, confidence: float, refuse_threshold: float | None = None) -> bool:
        """Whether to answer: the passages likely answer the question, or the best sentence very likely does."""
        threshold = self.refuse_threshold if refuse_threshold is None else refuse_threshold
        return answerable >= threshold or confidence >= self.answer_confidence

    def judge(self, candidates: Candidates) -> tuple[np.ndarray, float, float]:
        """(each candidate's probability, the probability that the question is answerable, the confidence); the
        question-level models read the pointwise probabilities (:class:`SentenceModel`)."""
        probabilities = self.sentence.predict(candidates.rows)
        row = question_features(candidates, self.sentence.pointwise.predict(candidates.rows))
        answerable = float(self.answerable.predict(answerable_row(row, self.answerable.names)[None, :])[0])
        confidence = float(self.confidence.predict(
            confidence_rows(row[None, :], np.asarray([answerable]), np.asarray([probabilities.max()])))[0])
        return probabilities, answerable, confidence

    def to_json(self) -> dict[str, Any]:
        return {"feature_version": FEATURE_VERSION, "recipe": self.recipe,
                "sentence_threshold": self.sentence_threshold, "refuse_threshold": self.refuse_threshold,
                "answer_confidence": self.answer_confidence, "sentence": self.sentence.to_json(),
                "answerable": self.answerable.to_json(),
                "confidence": self.confidence.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JudgeModel:
        if str(data.get("feature_version")) != FEATURE_VERSION:
            raise ValueError(f"it is of feature version {data.get('feature_version')}, this citeqa reads version "
                             f"{FEATURE_VERSION} (the features or the models' form changed); run `citeqa train-judge`")
        return cls(SentenceModel.from_json(data["sentence"]),
                   Linear.from_json(data["answerable"], _answerable_names(data["answerable"])),
                   Linear.from_json(data["confidence"], CONFIDENCE_FEATURES),
                   float(data["sentence_threshold"]), float(data["refuse_threshold"]), dict(data.get("recipe", {})),
                   float(data.get("answer_confidence", ANSWER_CONFIDENCE)))

    def save(self, path: Path) -> None:
        """The model as JSON at ``path``, its reader's weights beside it (:func:`reader_file`)."""
        if self.reader is None:
            raise ValueError("a judge model is saved with its reader")
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        self.reader.save(reader_file(path))

    @classmethod
    def load(cls, path: Path | None = None) -> JudgeModel:
        """The model at ``path``, by default the packaged one (:data:`MODEL_FILE`), with its reader."""
        path = path or MODEL_FILE
        model = cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        if not reader_file(path).is_file():
            raise ValueError(f"the judge model's reader {reader_file(path).name} is missing; run `citeqa train-judge`")
        return replace(model, reader=ReaderWeights.load(reader_file(path)))


def _answerable_names(data: dict[str, Any]) -> tuple[str, ...]:
    names = tuple(data.get("features", ()))
    if "bias" not in names or not set(names) <= set(QUESTION_FEATURES):
        raise ValueError(f"the judge model's answerable model reads unknown features {list(names)}")
    return names


def reader_file(model_file: Path) -> Path:
    """Where the reader of the judge model at ``model_file`` is: ``judge_model.json`` -> ``judge_model.reader.npz``."""
    return model_file.with_suffix(".reader.npz")


class Judge:
    """Scores candidate sentences with a :class:`JudgeModel` (the packaged one by default)."""

    def __init__(self, model: JudgeModel | None = None) -> None:
        self.model = model or JudgeModel.load()
        self.name = f"judge ({self.model.recipe.get('name', 'features')})"
        if self.model.reader is None:
            raise ValueError("the judge model carries no reader; load it with JudgeModel.load")
        self.reader = Reader(self.model.reader)

    def warm(self) -> None:
        """Read the word-frequency list and the reader's tokenizer now (~0.5 s), not in the first request."""
        rarity("warm")
        self.reader.warm()

    def score(self, question: str, question_vector: np.ndarray, passages: Sequence[Passage]) -> Judgement:
        found = features(question, question_vector, passages, self.reader)
        if not found.items:
            return Judgement()
        probabilities, answerable, confidence = self.model.judge(found)
        items = [Candidate(**{**item.__dict__, "probability": float(p)})
                 for item, p in zip(found.items, probabilities, strict=True)]
        return Judgement(items, answerable, confidence)

    def rater(self, embedder: Any, passages: Sequence[Passage]) -> Any:
        """A :data:`service.answer.citations.Rater` for an LLM's answer: each answer sentence (a claim) is judged like a
        question against the cited passage's sentences, so a marker resolves to the sentence rated best, and the
        answer sentence is supported when that probability reaches ``SUPPORTED``."""
        @functools.cache  # a streamed answer is checked again at every sentence
        def rate(claim: str, index: int) -> list[tuple[int, int, float]]:
            vector = embedder.embed_cached([claim])[0]
            found = features(claim, vector, [passages[index]], self.reader)
            # the pointwise probability: how well each sentence backs the claim on its own (SUPPORTED is read
            # against it), not how it ranks among one passage's sentences
            probabilities = self.model.sentence.pointwise.predict(found.rows)
            return [(item.start, item.end, float(p)) for item, p in zip(found.items, probabilities, strict=True)]

        return rate
