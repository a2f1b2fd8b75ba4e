"""Customer-care intent: hashed n-grams + transparent regex cues, one linear softmax model.

Labels (``LABELS``): ``complaint`` (reports a problem or voices dissatisfaction),
``question`` (asks for information), ``request`` (asks the brand to *do* something: cancel,
refund, change, call back…), ``praise`` (thanks, compliments), ``churn_threat`` (says or
threatens they will leave), ``spam`` (advertising, scams, follow-bait), ``other`` (chatter,
off-topic, nothing to handle).

Model: ``softmax((X @ W + R @ V + b) / T)`` where ``X`` are the shared hashed features of
:mod:`clameur.analysis.features` and ``R`` the 0/1 cues of :data:`CUES` (regexes over the
normalised text, and a length test). ``W``, ``V`` and ``b`` are fitted together, so every cue
has one readable weight per label. Inference is numpy only; training lives in
:mod:`clameur.analysis.intent_train` (scikit-learn, imported there only). See
``docs/models.md`` for the data, the figures and the cue weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.features import FeatureConfig, HashedBatch
from clameur.analysis.model_base import (
    ARTIFACTS_DIR,
    LabelledRow,
    LinearModel,
    evaluate,
    softmax,
)
from clameur.analysis.model_base import read_rows as base_read_rows

LABELS: tuple[str, ...] = (
    "complaint",
    "question",
    "request",
    "praise",
    "churn_threat",
    "spam",
    "other",
)
DEFAULT_ARTIFACT = ARTIFACTS_DIR / "intent"

_Q, _C, _R, _P, _O = "question", "complaint", "request", "praise", "other"

# --- transparent rules: regex cues over the normalised text ------------------------------
#
# The normalised text is lower-cased, URLs are ``http``, @handles ``@user``, digits ``0``.
# Each cue is 0/1 per text; the model learns one weight per label for it (docs/models.md
# lists them). ``evidence`` says which label the cue was written for.

_W0 = r"(?<![^\W_])"  # word start
_W1 = r"(?![^\W_])"  # word end
_CLAUSE = r"(?:(?<![^\x00.!?,;:])|(?<=[\x00.!?,;:] )|(?<=@user )|(?<=bonjour )|(?<=hello ))"


@dataclass(frozen=True, slots=True)
class Cue:
    """A 0/1 feature: fires when any of ``patterns`` matches the normalised text."""

    name: str
    evidence: str
    patterns: tuple[str, ...]


def _cue(name: str, evidence: str, *patterns: str) -> Cue:
    return Cue(name, evidence, patterns)


CUES: tuple[Cue, ...] = (
    _cue("question_mark", _Q, r"\?"),
    _cue(
        "interrogative",
        _Q,
        _CLAUSE + r"(?:est[- ]ce|comment|pourquoi|pk|pq|quand|o[uù]|combien|quel(?:le)?s?|"
        r"qu['’]est|c['’]est quoi|c quoi|y a[- ]t[- ]il|y a moyen|peut[- ]on|on peut|faut[- ]il|"
        r"c['’]est possible|il y a|how|what|when|where|why|which|is|are|do|does|did|can i|"
        r"will|should)" + _W1,
    ),
    _cue(
        "question_word",
        _Q,
        _W0 + r"(?:combien|quel(?:le)?s?|pourquoi|[aà] quelle|jusqu['’][aà] quand|"
        r"quelqu['’]un sait|ou pas|how (?:much|many|long|do|can)|which)" + _W1,
        r"(?<=\w)-(?:t-)?(?:il|elle|ils|elles|on)" + _W1,  # inversion: "peut-on", "a-t-il"
    ),
    _cue(
        "polite_ask",
        _R,
        "|".join(
            alternative + _W1
            for alternative in (
                r"pouvez[- ]vous",
                r"pourriez[- ]vous",
                r"peux[- ]tu",
                r"pourrais[- ]tu",
                "svp",
                "stp",
                r"s['’]il vous pla[iî]t",
                r"s['’]il te pla[iî]t",
                "je souhaite",
                "je souhaiterais",
                "je voudrais",
                r"j['’]aimerais",
                "je demande",
                "je vous prie",
                "please",
                "could you",
                "can you",
                "would you",
                r"i['’]d like",
                "i would like",
                "i need you",
            )
        )
        + r"|merci d(?:e |['’](?!avoir))|je veux qu",
    ),
    _cue(
        "action_verb",
        _R,
        _W0 + r"(?:rembours|annul|supprim|d[ée]bloqu|bloquez|envoy|renvoy|rappel|modifi|"
        r"mettez|mettre à jour|r[ée]exp[ée]di|transf[ée]r|refund|cancel|unsubscrib|delete|"
        r"block|unblock|send|call me|update|close my)",
    ),
    _cue("imperative_me", _R, r"(?<=\w)ez[- ]moi" + _W1),
    _cue(
        "thanks",
        _P,
        _W0 + r"(?:merci|thanks?|thank you|thx|cheers)" + _W1 + r"(?! ?(?:de |d['’](?!avoir)|"
        r"d avance|par avance|in advance))",
    ),
    _cue(
        "compliment",
        _P,
        _W0 + r"(?:bravo|top|g[ée]nial\w*|super|parfait\w*|excellent\w*|impeccable|"
        r"f[ée]licit\w*|chapeau|recommande|adore|au top|great|awesome|brilliant|amazing|love|"
        r"kudos|well done|impressed|fantastic|best|superb)" + _W1,
    ),
    _cue(
        "still_again",
        _C,
        _W0 + r"(?:toujours (?:pas|rien|aucun\w*)|encore (?:un|une|des)|depuis (?:hier|ce matin|"
        r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|le 0|(?:0|des|plus d['’]une?|une|"
        r"deux|trois) (?:h|heures?|jours?|semaines?|mois|minutes?|min))|"
        r"still (?:no|not|waiting)|again|for (?:0|two|three) (?:days|weeks))" + _W1,
    ),
    _cue(
        "failure",
        _C,
        _W0 + r"(?:panne|bug\w*|plant\w*|marche(?:nt)? (?:plus|pas)|fonctionne(?:nt)? (?:plus|pas)|"
        r"impossible de|injoignable|aucune? (?:r[ée]ponse|nouvelle)|jamais (?:venu|re[çc]u|"
        r"rappel\w*)|perdu\w*|refus[ée]\w*|bloqu[ée]\w*|not working|doesn['’]?t work\w*|"
        r"don['’]?t work\w*|isn['’]?t work\w*|broken|crash\w*|never (?:arrived|showed|came)|"
        r"lost|declined)" + _W1,
    ),
    _cue(
        "sarcasm",
        _C,
        r"(?:merci|bravo|thanks?|super|g[ée]nial)[^\x00.!?]{0,25}(?:pour rien|for nothing|"
        r"\.\.\.|…)|🙄|🙃|merci la compagnie",
    ),
    _cue(
        "outrage",
        _C,
        _W0 + r"(?:honte\w*|inadmissible|inacceptable|scandal\w*|nul(?:le|s)?|d[ée][çc]u\w*|"
        r"lamentable|n['’]importe quoi|abus\w*|disgrace\w*|unacceptable|ridiculous|"
        r"hopeless|useless|terrible|awful|worst|pathetic)" + _W1,
    ),
    _cue(
        "leaving",
        "churn_threat",
        _W0 + r"(?:je (?:vais |compte |vous )?(?:r[ée]silie|me casse|pars|quitte|change de|"
        r"passe chez|m['’]en vais|me d[ée]sabonne|ferme)|je vais (?:voir|aller|partir|passer|"
        r"r[ée]silier|changer|fermer|cl[ôo]turer|quitter|prendre)|"
        r"ailleurs|chez (?:la |un |une )?(?:concurren\w*|"
        r"autre)|concurren\w*|plus jamais|derni[eè]re (?:fois|commande|chance)|"
        r"perdre? (?:un|une) client\w*|adieu|bye bye|dernier (?:achat|mois|avertissement)|"
        r"fin de mon (?:engagement|contrat|pr[ée]avis)|switch\w* to (?:another|a different|"
        r"a competitor|your rivals)|moving to (?:another|a different|a competitor|your rivals)|"
        r"going to (?:another|a different|a competitor|your rivals)|never again|last time|"
        r"lost a (?:loyal )?customer|elsewhere|competit\w*|i['’]?m (?:done|out|leaving)|"
        r"cancel\w* everything|closing (?:all )?my accounts?|partir(?<!à partir)(?<!a partir)|"
        r"quitter|"
        r"repars|changer de (?:banque|op[ée]rateur|fournisseur|assur\w*)|autres? (?:op[ée]rateurs?|"
        r"banques?|compagnies?|fournisseurs?|sites?)|another (?:provider|carrier|network|bank|"
        r"airline)|different airline|ne (?:le |me )?renouvel\w*|pas (?:le |me )?renouvel\w*|"
        r"renewing|boycott\w*)" + _W1,
    ),
    _cue("cancel_word", "churn_threat", _W0 + r"(?:r[ée]sili\w*|d[ée]sabonn\w*|cancel\w*)"),
    _cue(
        "ultimatum",
        "churn_threat",
        _W0 + r"si" + _W1 + r"[^\x00.!?]{0,60}" + _W0 + r"(?:je|j['’])\s?(?:r[ée]silie|pars|"
        r"change|quitte|me casse|m['’]en vais|ferme|me d[ée]sabonne)",
        _W0 + r"if" + _W1 + r"[^\x00.!?]{0,60}" + _W0 + r"i['’]?(?:m| will| am|ll)? ?(?:cancel|"
        r"leav|switch|out|gone|clos)",
        r"ou je (?:r[ée]silie|pars|m['’]en vais|change)",
        r"or i['’]?m (?:out|gone|leaving|cancel\w*)",
    ),
    _cue(
        "link",
        "spam",
        _W0 + r"(?:http|bit\.ly)" + _W1,
        r"(?<=[a-z0-9-])\.(?:com|fr|net|org|io|ly|example|xyz|shop|biz)" + _W1,  # a domain
    ),
    _cue(
        "promo",
        "spam",
        _W0 + r"(?:code (?:promo|parrain|r[ée]duc\w*|[a-z]+0+)|promo\w*|-00* ?%|00* ?% (?:de|off)|"
        r"gratuit\w*|offert\w*|free|discount|deals?|bons? plans?|vente flash|"
        r"stock limit[ée]|quantit[ée]s limit[ée]es|limited|prix usine|[àa] petit prix)" + _W1,
    ),
    _cue(
        "money",
        "spam",
        _W0 + r"(?:gagne[zr]?|gains?|00* ?(?:€|\$|euros?) ?(?:/|par|a|per) ?(?:jour|mois|day|"
        r"month|h)|bitcoins?|crypto\w*|trading|investi\w*|rendement|earn|make \$|riches?|"
        r"rich|casino|nft)" + _W1,
    ),
    _cue(
        "contact_me",
        "spam",
        _W0 + r"(?:dm|mp|message priv[ée]|en priv[ée]|whatsapp|telegram|lien (?:en|dans (?:la|"
        r"ma|mon)) bio|link in (?:bio|my profile)|dans (?:mon|le) profil|in my profile|"
        r"inbox|cliquez|click here|clique ici|contactez|[ée]crivez-moi|t[ée]l[ée]chargez|"
        r"message me|contact us)" + _W1,
    ),
    _cue(
        "social_bait",
        "spam",
        _W0 + r"(?:follow\w*|like|rt|abonne[zr]?(?:-vous)?|subscribe|giveaway|concours|"
        r"tag (?:0|trois)|partage[zr]?|share|followers|abonn[ée]s)" + _W1,
    ),
    _cue(
        "greeting_only",
        _O,
        r"(?<![^\x00])(?:bonjour|salut|coucou|hello|hi|hey|bonsoir|bonne nuit|good night|ok|"
        r"okay|hmm|lol|mdr|test)[ !.]*(?![^\x00])",
    ),
)
EXTRA_CUES: tuple[Cue, ...] = (Cue("short", _O, ("two words or fewer",)),)
CUE_NAMES: tuple[str, ...] = tuple(c.name for c in CUES + EXTRA_CUES)

# Speed. Python's ``re`` scans quickly only for a pattern that starts with literal text (a C
# substring search), so every cue pattern ``LEAD(?:A|B|…)TAIL`` is compiled into one scan per
# alternative, each starting with the alternative's literal text (leading ``[ée]``/``s?`` are
# expanded into variants) and the position test moved after it as a look-behind that includes
# that text, e.g. ``(?<![^\W_])(?:merci|bravo)`` → ``merci(?<![^\W_]merci)``, ``bravo(?<!…)``.
# Same matches; a text needs one hit per cue, so a scan jumps to the next text after a hit.
_LEADS = (_CLAUSE, _W0, r"(?<![^\x00])", r"(?<=\w)", r"(?<=[a-z0-9-])")
_LOOKBEHIND = re.compile(r"\(\?<([=!])((?:\[[^\]]*\]|[^()\[\]])*)\)")
_META = set(".^$*+?{}[]()|\\")


def _split_top(pattern: str) -> list[str]:
    """``pattern`` cut at its depth-0 ``|``."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i = pattern.index("]", i + 2 if pattern[i + 1] == "^" else i + 1)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def _group_end(pattern: str) -> int:
    """Index of the ``)`` closing the group that opens ``pattern``."""
    depth, i = 0, 0
    while True:
        char = pattern[i]
        if char == "\\":
            i += 1
        elif char == "[":
            i = pattern.index("]", i + 2 if pattern[i + 1] == "^" else i + 1)
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1


def _literal_variants(alternative: str) -> list[tuple[str, str]]:
    """``(literal prefix, rest)`` pairs whose union is ``alternative``; the prefix expands
    leading literals, ``[xy]`` classes and ``x?`` options."""
    out: list[tuple[str, str]] = []
    stack = [("", alternative)]
    while stack:
        prefix, rest = stack.pop()
        if len(out) + len(stack) > 32:  # pathological: keep the remaining text as it is
            out.append((prefix, rest))
            continue
        if rest[:1] == "[" and rest[1:2] not in ("^", "]"):
            end = rest.index("]")
            chars, tail = rest[1:end], rest[end + 1 :]
            if "\\" in chars or "-" in chars[1:-1] or tail[:1] in ("*", "+", "{"):
                out.append((prefix, rest))  # not a plain class of literal characters
            elif tail[:1] == "?":
                stack += [(prefix + c, tail[1:]) for c in chars] + [(prefix, tail[1:])]
            else:
                stack += [(prefix + c, tail) for c in chars]
        elif rest[:1] == "\\" and len(rest) > 1 and not rest[1].isalnum():
            stack.append((prefix + rest[1], rest[2:]))  # an escaped literal
        elif rest and rest[0] not in _META:
            if rest[1:2] == "?":
                stack += [(prefix + rest[0], rest[2:]), (prefix, rest[2:])]
            elif rest[1:2] in ("*", "+", "{"):
                out.append((prefix, rest))
            else:
                stack.append((prefix + rest[0], rest[1:]))
        else:
            out.append((prefix, rest))
    return out


def _sources(pattern: str) -> list[tuple[str, str]]:
    """``(literal prefix, regex)`` pairs whose union matches where ``pattern`` does."""
    lead = next((lead for lead in _LEADS if pattern.startswith(lead)), "")
    rest = pattern[len(lead) :]
    if not lead and len(_split_top(rest)) > 1:
        return [source for part in _split_top(rest) for source in _sources(part)]
    alternatives, tail = [rest], ""
    if rest.startswith("(?:"):
        close = _group_end(rest)
        alternatives, tail = _split_top(rest[3:close]), rest[close + 1 :]
    out = []
    for alternative in alternatives:
        for literal, remainder in _literal_variants(alternative):
            if not literal:  # no literal start: the pattern as written (slower, still right)
                out.append(("", lead + remainder + tail))
                continue
            text = re.escape(literal)
            moved = _LOOKBEHIND.sub(lambda m, t=text: f"(?<{m[1]}{m[2]}{t})", lead)  # type: ignore[misc]
            out.append((literal, text + moved + remainder + tail))
    return out


def _compile_cue(cue: Cue) -> tuple[re.Pattern[str], ...]:
    """One scan per first character of the literal prefixes (measured fastest)."""
    groups: dict[str, list[str]] = {}
    for pattern in cue.patterns:
        for literal, source in _sources(pattern):
            groups.setdefault(literal[:1], []).append(source)
    return tuple(re.compile("|".join(sources)) for sources in groups.values())


_COMPILED = tuple(_compile_cue(cue) for cue in CUES)


def cue_matrix(normed: Sequence[str]) -> NDArray[np.float32]:
    """The 0/1 cues of normalised texts, ``(n, len(CUE_NAMES))``; one scan per pattern."""
    n = len(normed)
    out = np.zeros((n, len(CUE_NAMES)), dtype=np.float32)
    if n == 0:
        return out
    big = "\x00".join(normed)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum([len(t) + 1 for t in normed[:-1]], out=starts[1:])
    for j, scans in enumerate(_COMPILED):
        hits: list[int] = []
        for scan in scans:
            pos = 0
            while (m := scan.search(big, pos)) is not None:
                hits.append(m.start())
                pos = big.find("\x00", m.start())  # one hit per text: go to the next text
                if pos < 0:
                    break
        if hits:
            rows = np.searchsorted(starts, np.asarray(hits), side="right") - 1
            out[rows, j] = 1.0
    out[:, len(CUES)] = [norm.count(" ") < 2 for norm in normed]
    return out


# --- the model -----------------------------------------------------------------------------


@dataclass(slots=True)
class IntentModel(LinearModel):
    """Linear softmax over hashed features and cues; ``predict`` gives ``(label, confidence)``."""

    weights: NDArray[np.float32]  # (n_features, n_labels)
    cue_weights: NDArray[np.float32]  # (len(CUE_NAMES), n_labels), cue scale folded in
    bias: NDArray[np.float32]  # (n_labels,)
    config: FeatureConfig = field(default_factory=FeatureConfig)
    labels: tuple[str, ...] = LABELS
    temperature: float = 1.0
    metadata: dict[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = "intent"
    default_artifact: ClassVar[Path] = DEFAULT_ARTIFACT

    def logits_from(self, batch: HashedBatch, normed: Sequence[str]) -> NDArray[np.float32]:
        """Logits before temperature, ``(n, len(labels))``."""
        if batch.n_features != self.weights.shape[0]:
            raise ValueError(
                f"intent model expects {self.weights.shape[0]} hashed features, "
                f"the batch has {batch.n_features}"
            )
        if batch.n_rows != len(normed):
            raise ValueError(f"intent: {batch.n_rows} feature rows for {len(normed)} texts")
        scores = batch.dot(self.weights)
        scores += cue_matrix(normed) @ self.cue_weights
        scores += self.bias
        return scores

    def scores_from(
        self, batch: HashedBatch, normed: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        """Probabilities ``(n, 7)`` in ``LABELS`` order from features computed by the caller.

        ``batch`` = ``extract(texts, FeatureConfig(), normed=normed)`` and ``normed`` =
        ``normalise_batch(texts)``, shared by every analysis model of a batch. The cues read
        ``normed`` only; ``texts`` is part of the shared interface of the analysis models.
        """
        return softmax(self.logits_from(batch, normed), self.temperature)

    probabilities_from = scores_from

    def artifact_header(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "temperature": self.temperature,
            "cues": list(CUE_NAMES),
        }

    def artifact_arrays(self) -> dict[str, NDArray[Any]]:
        return {
            "weights": self.weights.astype(np.float16),
            "cue_weights": self.cue_weights.astype(np.float32),
            "bias": self.bias.astype(np.float32),
        }

    @classmethod
    def from_artifact(
        cls, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], where: Path
    ) -> IntentModel:
        config = FeatureConfig.from_dict(header["config"])
        weights = arrays["weights"].astype(np.float32)
        if weights.shape[0] != 1 << config.bits:
            raise ValueError(f"{where}: weights do not match {config.bits} hash bits")
        if tuple(header["cues"]) != CUE_NAMES:
            raise ValueError(f"{where}: trained with other cues than this code; retrain it")
        return cls(
            weights=weights,
            cue_weights=arrays["cue_weights"].astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
            config=config,
            temperature=float(header["temperature"]),
        )


# --- data ----------------------------------------------------------------------------------


Row = LabelledRow


def read_rows(
    path: Path, origin: str = "", mapping: Mapping[str, str] | None = None
) -> list[LabelledRow]:
    """A ``{text, label}`` JSON Lines file; with ``mapping``, labels are mapped (others
    dropped). Every label must be one of :data:`LABELS` (the error names the line)."""
    return base_read_rows(path, LABELS, mapping=mapping, origin=origin)


__all__ = [
    "CUE_NAMES",
    "CUES",
    "LABELS",
    "IntentModel",
    "Row",
    "cue_matrix",
    "evaluate",
    "read_rows",
]
