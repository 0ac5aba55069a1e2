"""Personal data masked before a prompt is built: emails, phone numbers, payment cards and the SOP's patterns.

What to mask is a ``MaskPolicy``: the kinds the SOP's ``privacy:`` section names plus those asked for
(``LabelOptions.mask``, ``--mask``), the regions whose national phone formats are read, and the SOP's own
patterns (order numbers, national ids), each with its placeholder name. ``mask_item`` replaces every value
found in an item's text by a placeholder that is stable within the item: ``<PHONE_1>`` for the first number,
the same placeholder for the same number written again (in any format), ``<EMAIL_n>``, ``<CARD_n>`` and the
SOP's names. The mapping (placeholder -> what it replaced) stays in memory; only ``--keep-mask-map`` writes
it, into the run directory. ``prompt.rendering.render_prompt`` masks every item it renders, so every path that
sends an item (run, Batch API, test, diff, gaps) sends it masked.

Detectors run in order on what earlier ones left: the SOP's patterns, emails, cards (13-19 digits, spaces or
dashes between them, Luhn-valid only: other digit runs stay), phone numbers (``phonenumbers``: a number in
international form ``+62 ...`` anywhere; a national one ``0812 ...`` read in the item's region first —
``meta``'s ``market``/``country``/``region`` or its language — then in the policy's regions).

    >>> policy = MaskPolicy(kinds=("email", "card"))
    >>> masked = mask_text(policy, "mail a@b.co or A@B.CO, card 4111 1111 1111 1111, ref 1234 5678 9012 3456")
    >>> masked.text
    'mail <EMAIL_1> or <EMAIL_1>, card <CARD_1>, ref 1234 5678 9012 3456'
    >>> masked.counts
    {'EMAIL': 2, 'CARD': 1}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import accumulate, pairwise
from typing import Any

from prelabel.errors import InputError
from prelabel.inputs.digest import item_digest
from prelabel.inputs.items import Item
from prelabel.inputs.reading import BadItem
from prelabel.sop.spec import MASK_KINDS, SOP, Privacy

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "MASK_KINDS",
    "MaskPolicy",
    "Masked",
    "item_region",
    "mask_item",
    "mask_policy",
    "mask_text",
    "masked_digest",
    "parse_kinds",
]

#: The markets' regions whose national phone formats are read when the SOP names none.
DEFAULT_PHONE_REGIONS = ("ID", "TH", "VN", "MY", "PH", "SG", "US")
#: Languages whose speakers are mostly in one market: a national number in such an item is read there first
#: (English is not one: an English item may come from any market).
_LANGUAGE_REGIONS = {"id": "ID", "th": "TH", "vi": "VN", "ms": "MY", "fil": "PH", "tl": "PH"}
_PLACEHOLDER = {"email": "EMAIL", "phone": "PHONE", "card": "CARD"}

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
# digit runs with single spaces or dashes between digits (cards are written 4111 1111 ... or 4111-1111-...)
_CARD_RUN = re.compile(r"(?<![\w.,])\d(?:[ -]?\d)+(?![\w])")
# phone-like runs: an optional +, digit groups (some in parentheses) with up to two separators between
_PHONE_RUN = re.compile(r"(?<![\w+#/-])\+?\(?\d+\)?(?:[ \t\u00a0.\-/]{1,2}\(?\d+\)?)*")
_DIGITS = re.compile(r"\d+")
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 17


def parse_kinds(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Mask kinds from ``"email,phone"`` or a list, checked and in a stable order; ``ValueError`` names an
    unknown one.

        >>> parse_kinds("phone, email"), parse_kinds(None)
        (('email', 'phone'), ())
    """
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    kinds = {p.strip().lower() for p in parts if p.strip()}
    unknown = sorted(kinds - set(MASK_KINDS))
    if unknown:
        raise ValueError(f"unknown mask kind '{unknown[0]}'; known: {', '.join(MASK_KINDS)}")
    return tuple(k for k in MASK_KINDS if k in kinds)


@dataclass(frozen=True)
class MaskPolicy:
    """What to mask: built-in ``kinds``, the phone ``regions`` and the SOP's ``patterns`` (name, regex)."""

    kinds: tuple[str, ...] = ()
    regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS
    patterns: tuple[tuple[str, str], ...] = ()

    @property
    def active(self) -> bool:
        """True when anything is masked."""
        return bool(self.kinds or self.patterns)

    def record(self) -> dict[str, Any]:
        """What the run ledger records of the policy (enough to rebuild it: ``from_record``)."""
        return {
            "kinds": list(self.kinds),
            "regions": list(self.regions) if "phone" in self.kinds else [],
            "patterns": {name: regex for name, regex in self.patterns},
        }

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> MaskPolicy:
        """The policy ``record`` describes (``None``: nothing masked)."""
        if not record:
            return cls()
        kinds = tuple(record.get("kinds") or ())
        return _checked(
            cls(
                kinds=kinds,
                regions=tuple(record.get("regions") or DEFAULT_PHONE_REGIONS),
                patterns=tuple((record.get("patterns") or {}).items()),
            )
        )


def mask_policy(sop: SOP | None, kinds: Iterable[str] = ()) -> MaskPolicy:
    """The policy for ``sop`` (its ``privacy:`` section) with the ``kinds`` asked for added.
    ``InputError`` when phone numbers are to be masked and ``phonenumbers`` is not installed."""
    privacy = sop.privacy if sop is not None else Privacy()
    return _policy(privacy, parse_kinds(kinds))


@lru_cache(maxsize=64)
def _policy(privacy: Privacy, asked: tuple[str, ...]) -> MaskPolicy:
    kinds = parse_kinds([*privacy.mask, *asked])
    regions = tuple(privacy.phone_regions) or DEFAULT_PHONE_REGIONS
    patterns = tuple((p.name, p.regex) for p in privacy.patterns)
    return _checked(MaskPolicy(kinds=kinds, regions=regions, patterns=patterns))


def _checked(policy: MaskPolicy) -> MaskPolicy:
    if "phone" in policy.kinds:
        phonenumbers = _phonenumbers()
        unknown = [r for r in policy.regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise InputError(f"privacy: phone region '{unknown[0]}' is not a region phonenumbers knows")
    return policy


def _phonenumbers() -> Any:
    try:
        import phonenumbers
    except ImportError:  # never send numbers silently because a package is missing
        raise InputError(
            "masking phone numbers needs the phonenumbers package: pip install 'prelabel[privacy]'"
        ) from None
    return phonenumbers


@dataclass(frozen=True)
class Masked:
    """A text with personal data replaced: the ``text``, ``counts`` per placeholder name (occurrences) and
    ``mapping`` (placeholder -> the first text it replaced; never sent, written only with --keep-mask-map)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts)


def item_region(item: Item) -> str | None:
    """The region an item's national phone numbers are read in first: ``meta``'s ``market``, ``country``
    or ``region`` (two letters), else its language's region (``en-PH`` -> PH, ``th`` -> TH; not ``en``).

        >>> item_region(Item(id="a", text="x", meta={"market": "vn"})), item_region(Item(id="b", text="x",
        ...     language="ms-MY")), item_region(Item(id="c", text="x", language="id"))
        ('VN', 'MY', 'ID')
    """
    for key in ("market", "country", "region"):
        value = item.meta.get(key)
        if isinstance(value, str) and len(value.strip()) == 2 and value.strip().isalpha():
            return value.strip().upper()
    language = (item.language or "").replace("_", "-").split("-")
    if len(language) > 1 and len(language[-1]) == 2 and language[-1].isalpha():
        return language[-1].upper()
    return _LANGUAGE_REGIONS.get(language[0].lower())


#: The item fields a prompt shows that can carry personal data: the text, and a video's transcript and
#: on-screen text. They are masked together (one numbering of placeholders per item), joined by a separator
#: no detector matches across.
_SHOWN_TEXTS = ("text", "transcript", "ocr_text")
_JOIN = "\n\x1e\n"


def mask_item(policy: MaskPolicy, item: Item) -> tuple[Item, Masked]:
    """``item`` with its texts masked under ``policy``, and what was masked (the item itself when nothing
    was). The texts (``text``, a video's ``transcript`` and ``ocr_text``) are the item fields a prompt shows
    that can carry personal data (the language is a code, images are not read); the item's id and ``meta``
    are never sent. Placeholders are numbered once per item, across its texts."""
    fields = [name for name in _SHOWN_TEXTS if getattr(item, name, None)]
    if not policy.active or not fields:
        return item, Masked(item.text or "")
    region = item_region(item) if "phone" in policy.kinds else None
    masked = mask_text(policy, _JOIN.join(getattr(item, name) for name in fields), region)
    if not masked:
        return item, Masked(item.text or "")
    parts = masked.text.split(_JOIN)
    if len(parts) != len(fields):  # a detector matched across the separator: mask each text on its own
        parts = [mask_text(policy, getattr(item, name), region).text for name in fields]
    return item.model_copy(update=dict(zip(fields, parts, strict=True))), masked


def masked_digest(policy: MaskPolicy, entry: Item | BadItem) -> str:
    """The item digest (``inputs.digest``) of ``entry`` as it is sent, masked under ``policy``: what the run
    ledger and the answer cache key answers by, so masking otherwise labels the items it changes again.
    Without anything masked it is ``item_digest(entry)``."""
    if isinstance(entry, BadItem):
        return item_digest(entry)
    return item_digest(mask_item(policy, entry)[0])


@lru_cache(maxsize=4096)  # a run masks each item twice: for its digest, then for its prompt
def mask_text(policy: MaskPolicy, text: str, region: str | None = None) -> Masked:
    """``text`` with what ``policy`` names replaced by stable placeholders (``region`` first for national
    phone numbers)."""
    if not policy.active:
        return Masked(text)
    spans: list[tuple[int, int, str, str]] = []  # start, end, placeholder name, identity of the value
    work = text
    for name, finder in _finders(policy, region):
        found = [(s, e, name, key) for s, e, key in finder(work)]
        if found:
            spans += found
            work = _blank(work, found)
    if not spans:
        return Masked(text)
    return _replace(text, sorted(spans))


def _finders(
    policy: MaskPolicy, region: str | None
) -> Iterator[tuple[str, Callable[[str], Iterator[tuple[int, int, str]]]]]:
    for name, regex in policy.patterns:
        yield name, _pattern_finder(regex)
    if "email" in policy.kinds:
        yield _PLACEHOLDER["email"], _emails
    if "card" in policy.kinds:
        yield _PLACEHOLDER["card"], _cards
    if "phone" in policy.kinds:
        # an item from a known market has its national numbers read that market's way first (the same number
        # in international form then gets the same placeholder), then in the other regions: a number from
        # elsewhere is masked too
        regions = tuple(dict.fromkeys((region, *policy.regions))) if region else policy.regions
        yield _PLACEHOLDER["phone"], lambda text: _phones(text, regions)


def _blank(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    """``text`` with ``spans`` overwritten by NULs (same length): later detectors neither see nor join
    them."""
    parts, last = [], 0
    for start, end, _, _ in sorted(spans):
        parts += [text[last:start], "\x00" * (end - start)]
        last = end
    return "".join([*parts, text[last:]])


def _replace(text: str, spans: list[tuple[int, int, str, str]]) -> Masked:
    numbers: dict[tuple[str, str], str] = {}
    per_name: dict[str, int] = {}
    counts: dict[str, int] = {}
    mapping: dict[str, str] = {}
    parts, last = [], 0
    for start, end, name, key in spans:
        placeholder = numbers.get((name, key))
        if placeholder is None:
            per_name[name] = per_name.get(name, 0) + 1
            placeholder = numbers[name, key] = f"<{name}_{per_name[name]}>"
            mapping[placeholder] = text[start:end]
        counts[name] = counts.get(name, 0) + 1
        parts += [text[last:start], placeholder]
        last = end
    return Masked("".join([*parts, text[last:]]), counts, mapping)


@lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _pattern_finder(regex: str) -> Callable[[str], Iterator[tuple[int, int, str]]]:
    pattern = _compiled(regex)

    def find(text: str) -> Iterator[tuple[int, int, str]]:
        for match in pattern.finditer(text):
            if match.end() > match.start() and "\x00" not in match.group():
                yield match.start(), match.end(), match.group()

    return find


def _emails(text: str) -> Iterator[tuple[int, int, str]]:
    if "@" not in text:
        return
    for match in _EMAIL.finditer(text):
        yield match.start(), match.end(), match.group().casefold()


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _cards(text: str) -> Iterator[tuple[int, int, str]]:
    for run in _CARD_RUN.finditer(text):
        if run.end() - run.start() < _MIN_CARD_DIGITS:
            continue
        at = run.start()
        groups = [(at + m.start(), at + m.end(), m.group()) for m in _DIGITS.finditer(run.group())]
        before = [0, *accumulate(len(g[2]) for g in groups)]  # digits before each group
        i = 0
        while i < len(groups):
            for j in range(len(groups), i, -1):  # the longest card starting at group i
                if not _MIN_CARD_DIGITS <= before[j] - before[i] <= _MAX_CARD_DIGITS:
                    continue
                digits = "".join(g[2] for g in groups[i:j])
                if luhn_valid(digits):
                    yield groups[i][0], groups[j - 1][1], digits
                    i = j
                    break
            else:
                i += 1


_MIN_CARD_DIGITS, _MAX_CARD_DIGITS = 13, 19


def _phones(text: str, regions: tuple[str, ...]) -> Iterator[tuple[int, int, str]]:
    """Valid phone numbers in ``text``: of each run of digit groups, the valid numbers that together cover
    the most digits (then the fewest, longest numbers: ``12 03 2024 0812 3456 7890`` keeps the date and masks
    the number; three numbers written one after the other are three numbers, not one long one and a rest);
    what is left between numbers found is then read as a run of its own."""
    phonenumbers = _phonenumbers()
    for run in _PHONE_RUN.finditer(text):
        chunk = run.group()
        groups = [(m.start(), m.end()) for m in _DIGITS.finditer(chunk)]
        before = [0, *accumulate(b - a for a, b in groups)]  # digits before each group
        if before[-1] < _MIN_PHONE_DIGITS:
            continue
        taken = _best_numbers(phonenumbers, chunk, groups, before, regions)
        if taken:  # the groups between the numbers found, each read as a whole
            edges = sorted({0, len(groups), *(e for a, b, _ in taken for e in (a, b))})
            for a, b in pairwise(edges):
                if all(b <= i or a >= j for i, j, _ in taken):
                    number = _phone_at(phonenumbers, chunk, groups[a:b], True, regions)
                    if number is not None:
                        taken.append((a, b, number))
        for _, _, (start, end, key) in taken:
            yield run.start() + start, run.start() + end, key


def _best_numbers(
    phonenumbers: Any,
    chunk: str,
    groups: list[tuple[int, int]],
    before: list[int],
    regions: tuple[str, ...],
) -> list[tuple[int, int, tuple[int, int, str]]]:
    """The non-overlapping windows of ``groups`` that are valid numbers and cover the most digits, then
    are the fewest (a dynamic programme over the groups; each window is parsed once)."""
    n = len(groups)
    # best[k]: (digits covered, -numbers) of the best choice within groups[:k], and the windows chosen
    best: list[tuple[tuple[int, int], list[tuple[int, int, tuple[int, int, str]]]]] = [((0, 0), [])]
    for k in range(1, n + 1):
        choice = best[k - 1]  # group k-1 in no number
        for i in range(max(0, k - _MAX_PHONE_GROUPS), k):
            if not _MIN_PHONE_DIGITS <= before[k] - before[i] <= _MAX_PHONE_DIGITS:
                continue
            (covered, fewer), chosen = best[i]
            score = (covered + before[k] - before[i], fewer - 1)
            if score <= choice[0]:
                continue
            number = _phone_at(phonenumbers, chunk, groups[i:k], i == 0 and k == n, regions)
            if number is not None:
                choice = (score, [*chosen, (i, k, number)])
        best.append(choice)
    return best[n][1]


_MAX_PHONE_GROUPS = 6
#: What a run of digit groups is when it is not a phone number: a date (2024-03-12, 31/08/2024), an amount
#: with thousands separators (85.000.000, 1,299,000).
_NOT_A_PHONE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}|\d{1,3}(?:([.,])\d{3})(?:\2\d{3})*")


def _phone_at(
    phonenumbers: Any, chunk: str, groups: list[tuple[int, int]], whole: bool, regions: tuple[str, ...]
) -> tuple[int, int, str] | None:
    """The number written by the digit ``groups`` of ``chunk`` (with a ``+`` or ``(`` before them), as
    (start, end, E.164), if it is a valid number in international form or in one of ``regions`` — written
    with the region's trunk prefix (``0812...`` in Indonesia) where the region has one. Unless the groups
    are a ``whole`` run, their start must say they are a number (+, an area code in parentheses, 0)."""
    start, end = groups[0][0], groups[-1][1]
    while start > 0 and chunk[start - 1] in "+(":
        start -= 1
    if end < len(chunk) and chunk[end] == ")":
        end += 1
    window = chunk[start:end]
    digits = sum(b - a for a, b in groups)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS or _NOT_A_PHONE.fullmatch(window):
        return None
    # a number run together with other digits (a date before it, a reference) counts only when its start
    # says it is one: a country code (+), an area code in parentheses, or the trunk prefix 0
    if not whole and window[0] not in "+(0":
        return None
    international = window.startswith("+")
    national = window.lstrip("(")
    for region in [None] if international else regions:
        if region is not None and _trunk_zero(phonenumbers, region) and not national.startswith("0"):
            continue
        try:
            number = phonenumbers.parse(window, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return start, end, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


@cache
def _trunk_zero(phonenumbers: Any, region: str) -> bool:
    """True when national numbers of ``region`` are written with the trunk prefix 0 (ID, TH, VN, MY, PH;
    not SG, nor the US, whose 1 is mostly left out)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return getattr(metadata, "national_prefix", None) == "0"
