"""Brand names and counterfeit cue words in OCR text.

Three foldings of a string do the work:

- ``fold``: NFKC, case-folded, letters and digits only. Two strings with the same fold are the
  *same* name written with other case, spacing or punctuation ("Vel-tora" = "VELTORA").
- ``skeleton``: ``fold`` after mapping look-alikes to one letter: Cyrillic/Greek homoglyphs,
  leetspeak digits and symbols (0→o, 1→l, 3→e, 4/@→a, 5/$→s, 7→t, 8→b), i/l/1, rn→m, vv→w,
  cl→d. Same skeleton but different fold means *looks like* the name: an altered mark.
- edit distance between skeletons (Damerau-Levenshtein, so swapped neighbours cost one), with a
  budget scaled to the name's length. Names under 4 letters match exactly only; 4-5 letter names
  allow only edits a buyer's eye skips (swapped neighbours, a doubled or dropped double letter),
  since any other one-letter change of a short name is usually another word ("Nike"/"Mike").

Ordinary English words never count as altered names through an edit (a dictionary guard), only
through look-alike characters: "velvet" or "spirit" must not flag, "5PR1TE" must.

Matching runs on every OCR word and on joins of neighbouring words (engines split words, and
sellers write "GUC CI"), and finds exact names inside run-together words ("GUCCIbag").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from .brands import BrandRegistry
from .config import MatchConfig
from .geometry import over_smaller
from .types import Box, TextHit

# Look-alike characters → the Latin letter a reader takes them for (after case-folding).
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ɡ": "g", "һ": "h", "ԛ": "q", "ԝ": "w", "ь": "b", "п": "n", "г": "r", "л": "n", "и": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "σ": "o",
    # Latin look-alikes outside ASCII
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
    # leetspeak and symbols
    "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "2": "z",
    "@": "a", "$": "s", "!": "l", "|": "l", "€": "e", "£": "l", "¡": "i",
}
# Letter groups a glance (or an OCR engine) cannot tell apart: all become the first letter.
# Order matters: i→l first, so "GUCCl" and "Gucci" both reach "gucd" through cl→d.
_SEQUENCES = (("i", "l"), ("rn", "m"), ("vv", "w"), ("cl", "d"))

_PIECE_SPLIT = re.compile(r"[\s,;:/\\()\[\]{}<>\"'“”‘’·•|_+.\-]+")  # also . and - (web addresses, hyphenated pairs)
# Neighbouring words joined when looking for split names. Engines read a letter-spaced wordmark
# in fragments of a letter or two ("BRU NC L EL L"), so a join reaches a name of eight letters
# read a letter at a time (3 missed 4 of the generator's 816 listings; BENCHMARKS.md, "Names read
# in many fragments").
_MAX_JOIN = 8
# A rule of meaning, not a tuned value: a name shorter than this ("HP", "LG", "BMW") is one of
# few letter combinations, so a near form of it is as likely another word as an alteration;
# such names match exactly only.
MIN_NEAR_LENGTH = 4


def fold(text: str) -> str:
    """NFKC, case-folded, letters and digits only: spelling-preserving normal form."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def skeleton(text: str) -> str:
    """What the text looks like: look-alikes, leetspeak and letter groups mapped to one form."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(_strip_accent(_HOMOGLYPHS.get(ch, ch)) for ch in text)
    text = "".join(ch for ch in text if ch.isalnum())
    for group, letter in _SEQUENCES:
        text = text.replace(group, letter)
    return text


def _strip_accent(ch: str) -> str:
    if ch.isascii():
        return ch
    decomposed = unicodedata.normalize("NFD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    return base or ch


def damerau_levenshtein(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance (swap of neighbours costs 1), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


@functools.lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """Common English words (lower-case), or an empty set when the word list is not installed."""
    try:
        from english_words import get_english_words_set
    except ImportError:
        return frozenset()
    return frozenset(get_english_words_set(["gcide"], lower=True, alpha=True))


def is_dictionary_word(text: str) -> bool:
    word = fold(text)
    return len(word) > 2 and word.isalpha() and word in _dictionary()


@dataclass(frozen=True)
class NameMatch:
    """A brand name (or a look-alike of it) found in OCR text."""

    brand: str
    exact: bool  # True: the registered name or an alias; False: an altered imitation of it
    text: str  # the text as read
    box: Box
    score: float  # similarity in [0, 1] times the OCR confidence
    reason: str
    confidence: float = 1.0  # the OCR engine's own confidence in the text read


@dataclass(frozen=True)
class CueMatch:
    """A counterfeit cue word or phrase found in OCR text."""

    cue: str
    text: str
    box: Box
    score: float


@dataclass(frozen=True)
class _Name:
    brand: str
    written: str  # the name or alias as registered
    folded: str
    skeleton: str


@dataclass(frozen=True)
class _Span:
    """One candidate piece of text: a word, or a join of neighbouring words of one line."""

    text: str
    box: Box
    score: float
    words: int  # how many OCR words were joined
    touching: bool = False  # joined boxes that touch or overlap: one word the engine cut in two


class BrandNameMatcher:
    """Finds registered names, their aliases and altered imitations in OCR text hits."""

    def __init__(self, registry: BrandRegistry | Iterable[tuple[str, Sequence[str]]],
                 config: MatchConfig = MatchConfig()):
        """``registry``: a :class:`BrandRegistry`, or ``(name, aliases)`` pairs."""
        self.config = config
        pairs = ([(b.name, b.names) for b in registry] if isinstance(registry, BrandRegistry)
                 else [(name, (name, *aliases)) for name, aliases in registry])
        self._names = [_Name(brand, written, fold(written), skeleton(written))
                       for brand, names in pairs for written in names if fold(written)]

    def __call__(self, texts: Sequence[TextHit]) -> tuple[NameMatch, ...]:
        best: dict[tuple[str, Box, bool], NameMatch] = {}
        for span in _spans(texts):
            for match in self._match_span(span):
                key = (match.brand, match.box, match.exact)
                if key not in best or match.score > best[key].score:
                    best[key] = match
        return _drop_covered(tuple(best.values()))

    def names_of(self, brand: str) -> tuple[str, ...]:
        """The brand's registered name and aliases, as written."""
        return tuple(n.written for n in self._names if n.brand == brand)

    def other_word(self, text: str, brand: str) -> str | None:
        """A word of ``text`` that is plainly not ``brand``'s name, or None.

        Plainly another word: an ordinary dictionary word of four letters or more that is not a
        piece of one of the brand's names ("Cola" of "CocaCola"), does not hold one (a
        run-together "Kyranebag"), and is not within the edit budget of an altered name ("Fond"
        for "Ford" is the budget's one letter: OCR may have misread the mark). "CRANE" for
        "KYRANE" is two letters off a six-letter name: another word."""
        names = [(n, self._edit_budget(n.skeleton)) for n in self._names if n.brand == brand]
        limit = self.config.max_edits
        for word in text.split():
            folded = fold(word)
            if len(folded) < 4 or not folded.isalpha() or not is_dictionary_word(word):
                continue
            if any(folded in n.folded or n.folded in folded for n, _ in names):
                continue
            if any(min(damerau_levenshtein(skeleton(word), n.skeleton, limit=limit),
                       damerau_levenshtein(folded, n.folded, limit=limit)) <= budget for n, budget in names):
                continue
            return word
        return None

    # A span can carry several names ("VELTORA x NOVALUX"), so yield every one.
    def _match_span(self, span: _Span) -> Iterable[NameMatch]:
        folded, skel = fold(span.text), skeleton(span.text)
        if not folded:
            return
        in_dictionary = span.words == 1 and is_dictionary_word(span.text)
        for name in self._names:
            match = self._compare(span, folded, skel, name, in_dictionary)
            if match is not None:
                yield replace(match, confidence=span.score)

    def _compare(self, span: _Span, folded: str, skel: str, name: _Name,
                 in_dictionary: bool) -> NameMatch | None:
        config = self.config
        joined = span.words > 1
        if folded == name.folded:
            if joined and len(name.folded) < MIN_NEAR_LENGTH:
                return None  # "H P" is two letters, not a split short name
            # A lone letter cut off ("TAVIQU E") is the engine's gap in a letter-spaced
            # wordmark; a seller's split leaves pieces of two letters or more ("GUC CI").
            pieces = span.text.split()
            if joined and not _has_space_inside(name.written) and min(len(fold(p)) for p in pieces) >= 2:
                # A name made of ordinary words ("RedBull", "CocaCola") is written with or
                # without the space by its own owner, and pieces whose boxes touch are one word
                # to the eye; a visible split that leaves non-words ("GUC CI", "VEL TORA") is a
                # seller dodging a filter.
                if span.touching:
                    return NameMatch(name.brand, True, span.text, span.box, span.score,
                                     f"registered name {name.written!r} read in touching pieces '{span.text}'")
                if all(len(fold(p)) >= 3 and is_dictionary_word(p) for p in pieces):
                    return NameMatch(name.brand, True, span.text, span.box, span.score,
                                     f"registered name {name.written!r} read as '{span.text}' (its words spaced)")
                return NameMatch(name.brand, False, span.text, span.box, 0.9 * span.score,
                                 f"'{span.text}' is the name {name.written!r} split into pieces")
            return NameMatch(name.brand, True, span.text, span.box, span.score,
                             f"registered name {name.written!r} read as '{span.text}'")
        if not joined and len(name.folded) >= 5 and not in_dictionary and folded.isalpha() and (
                folded.startswith(name.folded) or folded.endswith(name.folded)):
            # Run-together words ("GUCCIbag"): the name at either end of a longer word.
            return NameMatch(name.brand, True, span.text, span.box, 0.95 * span.score,
                             f"registered name {name.written!r} inside '{span.text}'")
        if len(name.skeleton) < MIN_NEAR_LENGTH:
            return None  # short names: exact only
        if skel == name.skeleton:
            return NameMatch(name.brand, False, span.text, span.box, 0.95 * span.score,
                             f"'{span.text}' imitates {name.written!r} with look-alike characters "
                             f"({_describe_difference(span.text, name.written)})")
        if in_dictionary:
            return None
        # Both spellings: the skeleton's letter groups can hide a swap ("KYARNE": rn→m).
        distance = min(damerau_levenshtein(skel, name.skeleton, limit=config.max_edits),
                       damerau_levenshtein(folded, name.folded, limit=config.max_edits))
        budget = self._edit_budget(name.skeleton)
        if distance == 0 or distance > budget:
            return None
        if len(name.skeleton) < 6 and not (_is_visual_edit(skel, name.skeleton)
                                           or _is_visual_edit(folded, name.folded)):
            return None
        similarity = 1.0 - distance / max(len(name.skeleton), 1)
        return NameMatch(name.brand, False, span.text, span.box, similarity * span.score,
                         f"'{span.text}' is {distance} edit(s) from {name.written!r} "
                         f"({_describe_difference(span.text, name.written)})")

    def _edit_budget(self, name_skeleton: str) -> int:
        return min(self.config.max_edits, int(len(name_skeleton) * self.config.max_edit_ratio))


def _has_space_inside(text: str) -> bool:
    return len(text.split()) > 1


def _is_visual_edit(a: str, b: str) -> bool:
    """One edit a glance skips: swapped neighbours, or a doubled/dropped repeated letter."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and \
            a[diff[1]] == b[diff[0]]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    if len(longer) != len(shorter) + 1:
        return False
    for i in range(len(longer)):
        if longer[:i] + longer[i + 1:] == shorter:
            # the removed letter must repeat a neighbour ("Niike", "Gucci" → "Guci")
            if (i > 0 and longer[i - 1] == longer[i]) or (i + 1 < len(longer) and longer[i + 1] == longer[i]):
                return True
    return False


def _describe_difference(seen: str, name: str) -> str:
    seen_fold = unicodedata.normalize("NFKC", seen).casefold()
    odd = sorted({ch for ch in seen_fold if ch.isalnum() and not ch.isascii() or ch in "0123456789@$!|"})
    if odd:
        return "look-alike characters: " + " ".join(repr(ch) for ch in odd)
    return f"spelling differs: {fold(seen)} vs {fold(name)}"


# Chinese/Japanese/Korean characters: a word boundary wherever they meet Latin letters or
# digits, since engines read "Veltora礼盒$24.50" as one run.
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_WORD = re.compile(rf"[{_CJK}]+|[^\s{_CJK}]+")


def _split_words(hit: TextHit) -> list[TextHit]:
    """Split a line into words with boxes estimated from character positions."""
    parts = [(m.start(), m.end()) for m in _WORD.finditer(hit.text)]
    if len(parts) <= 1:
        return [hit]
    x1, y1, x2, y2 = hit.box
    per_char = (x2 - x1) / max(len(hit.text), 1)
    return [TextHit(hit.text[s:e], (int(x1 + s * per_char), y1, int(x1 + e * per_char), y2), hit.score)
            for s, e in parts]


def _rows(texts: Sequence[TextHit]) -> list[list[TextHit]]:
    """Hits on one text row, left to right: engines cut one line into several boxes ("KY R", "RANE")."""
    rows: list[list[TextHit]] = []
    for hit in sorted(texts, key=lambda t: (t.box[0], t.box[1])):
        for row in rows:
            last = row[-1]
            height = max(last.box[3] - last.box[1], hit.box[3] - hit.box[1], 1)
            overlap = min(last.box[3], hit.box[3]) - max(last.box[1], hit.box[1])
            gap = hit.box[0] - last.box[2]
            if overlap > 0.6 * height and -0.2 * height <= gap < 1.2 * height:
                row.append(hit)
                break
        else:
            rows.append([hit])
    return rows


def _spans(texts: Sequence[TextHit]) -> Iterable[_Span]:
    """Words, and joins of 2-3 neighbouring words, of every OCR line (and of boxes on one row)."""
    for row in _rows(texts):
        if len(row) > 1:
            words = [w for hit in row for w in _split_words(hit) if fold(w.text)]
            for i in range(len(words) - 1):
                for n in (2, 3):
                    group = words[i:i + n]
                    if len(group) == n:
                        yield _join(group)
    for hit in texts:
        words = [w for w in _split_words(hit) if fold(w.text)]
        for i in range(len(words)):
            for n in range(1, _MAX_JOIN + 1):
                group = words[i:i + n]
                if len(group) < n:
                    break
                yield _join(group)
        # Punctuation-joined pieces of a word: a line read with no spaces at all ("GUCCI,bag"),
        # a web address ("puma.com"), a hyphenated pair ("HP-Compaq").
        for word in words:
            pieces = [p for p in _PIECE_SPLIT.split(word.text) if fold(p)]
            if len(pieces) > 1:
                for piece in pieces:
                    yield _Span(piece, word.box, word.score, 1)


_TOUCHING_GAP = 0.1  # gap between two boxes, in letter heights, under which they read as one word


def _join(group: Sequence[TextHit]) -> _Span:
    box = (min(w.box[0] for w in group), min(w.box[1] for w in group),
           max(w.box[2] for w in group), max(w.box[3] for w in group))
    height = max(w.box[3] - w.box[1] for w in group)
    # Engines cut a logo's word where its colour or weight changes ("Fed" | "Ex", boxes
    # overlapping); a seller's space leaves a gap of a letter's width or more.
    touching = len(group) > 1 and all(b.box[0] - a.box[2] <= _TOUCHING_GAP * height
                                      for a, b in zip(group, group[1:]))
    return _Span(" ".join(w.text for w in group), box, min(w.score for w in group), len(group), touching)


def _drop_covered(matches: tuple[NameMatch, ...]) -> tuple[NameMatch, ...]:
    """Prefer exact names; drop an altered match of a brand whose box an exact match contains."""
    exact = [m for m in matches if m.exact]
    kept = list(exact)
    for match in matches:
        if match.exact:
            continue
        if any(e.brand == match.brand and over_smaller(e.box, match.box) > 0.5 for e in exact):
            continue
        kept.append(match)
    # One match per (brand, exactness, box region): keep the best of overlapping ones.
    kept.sort(key=lambda m: (-m.score, m.text))
    result: list[NameMatch] = []
    for match in kept:
        if any(r.brand == match.brand and r.exact == match.exact and over_smaller(r.box, match.box) > 0.5
               for r in result):
            continue
        result.append(match)
    return tuple(result)


# Phrases in which a cue word means something else: "AAA" is also a battery size and a rating,
# "1:1" a model's scale or a mixing ratio. A rule of meaning, not a setting (like MIN_NEAR_LENGTH):
# a cue read only inside one of these does not count, whatever cue list is configured.
CUE_EXCEPTIONS = (
    "aaa battery", "aaa batteries", "aaa cell", "aaa cells", "aaa alkaline", "aaa rechargeable",
    "aaa size", "size aaa", "aaa rated", "rated aaa", "aaa rating", "1:1 scale", "scale 1:1",
    "1:1 ratio", "ratio 1:1",
)


# Cues that speak of a copy only next to a brand: "inspired by Veltora" sells a dupe, "inspired by
# nature" is marketing copy. They count where the photo also carries a brand mark (a name or a
# logo); a longer cue on the same line ("inspired by designer") counts on its own.
CUES_NEEDING_A_BRAND = ("inspired by",)


class CueMatcher:
    """Finds counterfeit cue words and phrases (English and Chinese) in OCR lines."""

    def __init__(self, cues: Sequence[str], exceptions: Sequence[str] = CUE_EXCEPTIONS):
        """``cues`` are the words and phrases to find; ``exceptions`` the phrases in which one of
        them means something else ("AAA batteries"): what they cover is not searched."""
        self._patterns = [(cue, _cue_pattern(cue)) for cue in cues if _normal_text(cue)]
        self._exceptions = [_cue_pattern(phrase) for phrase in exceptions if _normal_text(phrase)]

    def __call__(self, texts: Sequence[TextHit]) -> tuple[CueMatch, ...]:
        found: list[CueMatch] = []
        for hit in texts:
            line = _normal_text(hit.text)
            for exception in self._exceptions:
                line = exception.sub(" ", line)
            for cue, pattern in self._patterns:
                if pattern.search(line):
                    found.append(CueMatch(cue=cue, text=hit.text, box=hit.box, score=hit.score))
        # A line that matched "aaa" and "aaaa" is one piece of evidence: keep the longest cue.
        best: dict[Box, CueMatch] = {}
        for match in found:
            current = best.get(match.box)
            if current is None or len(match.cue) > len(current.cue):
                best[match.box] = match
        return tuple(best.values())


def _cue_pattern(cue: str) -> re.Pattern[str]:
    """A cue word or phrase as a pattern over :func:`_normal_text` lines."""
    normal = _normal_text(cue)
    if normal.isascii():
        body = r"\s*".join(_spaced_word(part) for part in normal.split())
        body = body.replace(":", r"\s*:\s*")  # "1:1", "1 : 1"
        return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")
    # CJK: no word boundaries; engines put stray spaces between characters, and a CTC recogniser
    # can emit a wide character twice ("1比比1" for "1比1": 比 is two halves that each look like
    # it). BENCHMARKS.md, "Counterfeit cues read with stray spaces or a doubled character".
    return re.compile(r"\s*".join(re.escape(ch) + "+" for ch in normal if not ch.isspace()))


def _spaced_word(word: str) -> str:
    """A cue word as a pattern that tolerates one stray space between its letters.

    Engines split long words where letters sit apart ("REPL ICA", "m i rror qua lity"). Words
    under five letters ("aaa", "dupe", "copy") stay whole: spaced short words are more often
    other text ("A A A" rating rows) than a split cue.
    """
    if len(word) < 5:
        return re.escape(word)
    return r"\s?".join(re.escape(ch) for ch in word)


def _normal_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("：", ":")
    return " ".join(text.split())
