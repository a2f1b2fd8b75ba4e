"""Training of the intent model (scikit-learn, imported lazily; never needed at run time).

Data: the project's own seed sets (``training/intent_seed_{fr,en}.jsonl`` at the repository
root, French first; a seeded 25 % of them is held out and never trained on), its customer-care
sets (``training/care_{fr,en,nl}.jsonl``, the ``intent`` of each line; the seeded 20 % that
:func:`clameur.analysis.care_data.split_care` holds out for both models is never trained on)
plus the English
intent datasets of the shared data folder, whose intents are mapped to our labels by the
explicit tables :data:`CLINC150_MAP`, :data:`BANKING77_MAP` and :data:`BITEXT_MAP`
(intents not listed there are dropped). ``clameur train intent`` calls
:func:`train_and_save`; figures go to the artifact's manifest
(``artifacts/intent/manifest.json``) and ``docs/models.md``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clameur.analysis.care_data import CARE_DIR, load_care
from clameur.analysis.features import FeatureConfig, extract, normalise_batch
from clameur.analysis.intent import (
    CUE_NAMES,
    DEFAULT_ARTIFACT,
    LABELS,
    IntentModel,
    Row,
    cue_matrix,
    evaluate,
    read_rows,
)
from clameur.analysis.model_base import fit_temperature

REPO_ROOT = Path(__file__).resolve().parents[3]
SEED_DIR = REPO_ROOT / "training"
"""The seed sets, at the repository root (not shipped in the package: training only)."""
TEST_FILE = REPO_ROOT / "tests" / "data" / "intent_test_fr.jsonl"

_Q, _C, _R, _P, _O = "question", "complaint", "request", "praise", "other"

# --- mapping of the English datasets to our labels (unlisted intents are dropped) ---------
#
# Rules: *question* = the utterances ask how something works or for a fact (fees, limits,
# delays, status); *complaint* = they report that something went wrong for the customer
# (declined, failed, not working, not received, charged twice, unknown payment);
# *request* = they ask for an action on their account or order (refund, cancel, change,
# block, close, call back); *other* = out-of-scope or chit-chat. Intents whose utterances mix
# two of these (e.g. "pending" payments: "why is it pending?" and "it is still pending!") and
# assistant commands unrelated to customer care (timers, music, recipes) are dropped.


def _table(groups: Mapping[str, str]) -> dict[str, str]:
    """``{label: "intent intent …"}`` → ``{intent: label}``."""
    return {intent: label for label, names in groups.items() for intent in names.split()}


CLINC150_MAP: Mapping[str, str] = _table(
    {
        _C: "card_declined damaged_card account_blocked report_fraud lost_luggage",
        _R: "cancel_reservation freeze_account report_lost_card order_checks "
        "credit_limit_change travel_notification",
        _Q: "apr application_status balance bill_balance bill_due carry_on credit_limit "
        "credit_score direct_deposit exchange_rate expiration_date flight_status "
        "improve_credit_score interest_rate international_fees international_visa min_payment "
        "order_status redeem_rewards replacement_card_duration rewards_balance routing "
        "plug_type vaccines travel_alert",
        _P: "thank_you",
        _O: "oos greeting yes no maybe",
    }
)
BANKING77_MAP: Mapping[str, str] = _table(
    {
        _C: "card_not_working contactless_not_working virtual_card_not_working "
        "declined_card_payment declined_cash_withdrawal declined_transfer failed_transfer "
        "top_up_failed top_up_reverted card_swallowed transaction_charged_twice "
        "wrong_amount_of_cash_received card_payment_wrong_exchange_rate "
        "card_payment_not_recognised cash_withdrawal_not_recognised "
        "direct_debit_payment_not_recognised compromised_card Refund_not_showing_up "
        "beneficiary_not_allowed extra_charge_on_statement card_payment_fee_charged",
        _R: "request_refund terminate_account cancel_transfer lost_or_stolen_card "
        "edit_personal_details getting_spare_card",
        _Q: "age_limit atm_support automatic_top_up card_acceptance card_delivery_estimate "
        "country_support disposable_card_limits exchange_charge exchange_rate exchange_via_app "
        "fiat_currency_support supported_cards_and_currencies top_up_by_bank_transfer_charge "
        "top_up_by_card_charge top_up_limits transfer_timing verify_my_identity "
        "why_verify_identity activate_my_card change_pin verify_top_up "
        "get_disposable_virtual_card order_physical_card receiving_money card_about_to_expire "
        "card_linking transfer_into_account top_up_by_cash_or_cheque verify_source_of_funds "
        "get_physical_card",
    }
)
BITEXT_MAP: Mapping[str, str] = _table(
    {
        _C: "complaint payment_issue registration_problems",
        _R: "cancel_order change_order change_shipping_address get_refund delete_account "
        "edit_account contact_human_agent get_invoice newsletter_subscription recover_password",
        _Q: "check_cancellation_fee check_payment_methods check_refund_policy delivery_options "
        "delivery_period contact_customer_service track_order",
    }
)
DATASET_MAPS: Mapping[str, Mapping[str, str]] = {
    "clinc150": CLINC150_MAP,
    "banking77": BANKING77_MAP,
    "bitext": BITEXT_MAP,
}


def read_seed(seed_dir: Path = SEED_DIR) -> list[Row]:
    """The project's seed sets (French and English)."""
    return [
        row
        for lang in ("fr", "en")
        for row in read_rows(seed_dir / f"intent_seed_{lang}.jsonl", origin=f"seed-{lang}")
    ]


def split_seed(rows: Sequence[Row], seed: int, val_share: float = 0.25) -> tuple[list[Row], ...]:
    """Seeded split stratified by origin and label: ``(train, val)``."""
    rng = np.random.default_rng(seed)
    train: list[Row] = []
    val: list[Row] = []
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.origin, row.label), []).append(row)
    for key in sorted(groups):
        group = groups[key]
        order = rng.permutation(len(group))
        n_val = int(round(len(group) * val_share))
        val += [group[int(i)] for i in order[:n_val]]
        train += [group[int(i)] for i in order[n_val:]]
    return train, val


def read_english(data_dir: Path, per_label: int, seed: int) -> list[Row]:
    """Mapped rows of the English train files, at most ``per_label`` per dataset and label."""
    rng = np.random.default_rng(seed + 1)
    out: list[Row] = []
    for name, mapping in DATASET_MAPS.items():
        rows = read_rows(data_dir / "intent" / name / "train.jsonl", name, mapping)
        for label in LABELS:
            of_label = [r for r in rows if r.label == label]
            keep = np.sort(rng.permutation(len(of_label))[:per_label])
            out += [of_label[int(i)] for i in keep]
    return out


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters (defaults = the shipped model, chosen on the held-out seed split)."""

    c: float = 10.0
    seed_share: float = 0.6  # share of each label's weight given to the seed rows
    fr_boost: float = 2.0  # weight of a French seed row relative to an English one
    cue_scale: float = 0.25  # value of a firing cue next to the L2-normalised n-grams
    english_per_label: int = 800  # cap per dataset and label
    max_seed_per_label: int | None = None  # small-slice training (tests)
    care_weight: float = 1.0  # weight of a care line relative to a seed line of its language

    def to_dict(self) -> dict[str, Any]:
        return {
            "C": self.c,
            "seed_share": self.seed_share,
            "fr_boost": self.fr_boost,
            "cue_scale": self.cue_scale,
            "english_per_label": self.english_per_label,
            "max_seed_per_label": self.max_seed_per_label,
            "care_weight": self.care_weight,
        }


def _own(row: Row) -> bool:
    """A line the project wrote (seed or care set), not a mapped dataset row."""
    return row.origin.startswith(("seed", "care"))


def _own_weight(row: Row, cfg: TrainConfig) -> float:
    weight = cfg.fr_boost if row.origin.endswith("-fr") else 1.0
    return weight * cfg.care_weight if row.origin.startswith("care") else weight


def sample_weights(rows: Sequence[Row], cfg: TrainConfig) -> NDArray[np.float64]:
    """Class-balanced weights: every label weighs the same in total; within a label the
    project's own rows (seed and care lines) get ``seed_share`` of it (all of it when no
    dataset row has that label), a French own row ``fr_boost`` times another language's, a
    care line ``care_weight`` times a seed line. Mean weight 1."""
    weights = np.zeros(len(rows), dtype=np.float64)
    for label in LABELS:
        idx = [i for i, r in enumerate(rows) if r.label == label]
        seed_idx = [i for i in idx if _own(rows[i])]
        data_idx = [i for i in idx if not _own(rows[i])]
        share = cfg.seed_share if data_idx else 1.0
        if not seed_idx:
            share = 0.0
        if seed_idx:
            raw = np.array([_own_weight(rows[i], cfg) for i in seed_idx])
            weights[seed_idx] = share * raw / raw.sum()
        if data_idx:
            weights[data_idx] = (1.0 - share) / len(data_idx)
    return weights * (len(rows) / weights.sum()) if weights.sum() else weights


def fit_model(
    rows: Sequence[Row],
    cfg: TrainConfig,
    *,
    seed: int,
    features: FeatureConfig | None = None,
    x_hashed: Any = None,
) -> IntentModel:
    """Fit the softmax over ``[hashed n-grams | cue_scale * cues]`` (scikit-learn, lbfgs)."""
    import warnings

    from scipy import sparse  # type: ignore[import-untyped]
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    features = features or FeatureConfig()
    texts = [r.text for r in rows]
    normed = normalise_batch(texts)
    if x_hashed is None:
        x_hashed = extract(texts, features, normed=normed).to_scipy()
    cues = cue_matrix(normed) * np.float32(cfg.cue_scale)
    x = sparse.hstack((x_hashed, sparse.csr_matrix(cues))).tocsr()
    y = np.array([LABELS.index(r.label) for r in rows])
    if len(set(y.tolist())) < 3:
        raise ValueError("intent training needs rows of at least three labels")
    # Columns no training text uses would get weight 0 anyway (L2): fit on the used ones only,
    # which makes lbfgs several times faster on 2**18 buckets.
    used = np.unique(x.indices)
    clf = LogisticRegression(C=cfg.c, max_iter=1000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x[:, used], y, sample_weight=sample_weights(rows, cfg))
    n_labels, n_hashed = len(LABELS), 1 << features.bits
    coef = np.zeros((n_labels, x.shape[1]), dtype=np.float64)
    bias = np.full(n_labels, -1e4, dtype=np.float64)  # a label absent from training: never
    coef[np.ix_(clf.classes_, used)] = clf.coef_
    bias[clf.classes_] = clf.intercept_
    return IntentModel(
        weights=coef[:, :n_hashed].T.astype(np.float16).astype(np.float32),
        cue_weights=(coef[:, n_hashed:].T * cfg.cue_scale).astype(np.float32),
        bias=bias.astype(np.float32),
        config=features,
    )


def train_intent(
    data_dir: Path | None,
    *,
    seed: int = 0,
    seed_dir: Path = SEED_DIR,
    cfg: TrainConfig | None = None,
    calibrate: bool = True,
    care_dir: Path | None = None,
) -> tuple[IntentModel, list[Row]]:
    """Train on 75 % of the seed sets, 80 % of the care sets of ``care_dir`` when given (the
    shipped model: :data:`clameur.analysis.care_data.CARE_DIR`) and the mapped English
    datasets when ``data_dir`` is given.

    Returns the model and the held-out lines (25 % of the seed, 20 % of the care sets; never
    trained on; the temperature is fitted on them with ``calibrate``, which does not change
    any predicted label). Deterministic for a given seed.
    """
    cfg = cfg or TrainConfig()
    train, val = split_seed(read_seed(seed_dir), seed)
    care_train, care_val = load_care(care_dir, seed) if care_dir is not None else ([], [])
    train += [Row(r.text, r.intent, f"care-{r.language}") for r in care_train]
    val += [Row(r.text, r.intent, f"care-{r.language}") for r in care_val]
    if cfg.max_seed_per_label is not None:
        rng = np.random.default_rng(seed + 2)
        kept: list[Row] = []
        for label in LABELS:
            group = [r for r in train if r.label == label]
            keep = np.sort(rng.permutation(len(group))[: cfg.max_seed_per_label])
            kept += [group[int(i)] for i in keep]
        train = kept
    english = read_english(data_dir, cfg.english_per_label, seed) if data_dir else []
    rows = train + english
    model = fit_model(rows, cfg, seed=seed)
    if calibrate:
        model.temperature = fit_temperature(model, val)
    counts = {o: sum(r.origin == o for r in rows) for o in sorted({r.origin for r in rows})}
    model.metadata = {
        "seed": seed,
        "train_rows": counts,
        "hyper_parameters": {
            **cfg.to_dict(),
            "features": model.config.to_dict(),
            "classifier": "multinomial logistic regression (scikit-learn lbfgs, L2), "
            "class-balanced sample weights",
            "temperature": model.temperature,
        },
    }
    return model, val


def validation_report(
    model: IntentModel, val: Sequence[Row], data_dir: Path | None, test_file: Path | None
) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` on the held-out seed and care lines (per language), the French test
    set, CLINC150 val."""
    report = {
        f"{kind}_val_{lang}": evaluate(model, of)
        for kind in ("seed", "care")
        for lang in ("fr", "en", "nl")
        if (of := [r for r in val if r.origin == f"{kind}-{lang}"])
    }
    if test_file is not None and test_file.exists():
        report["test_fr"] = evaluate(model, read_rows(test_file, "test-fr"))
    clinc_val = data_dir / "intent" / "clinc150" / "val.jsonl" if data_dir else None
    if clinc_val is not None and clinc_val.exists():
        report["clinc150_val_mapped"] = evaluate(
            model, read_rows(clinc_val, "clinc150", CLINC150_MAP)
        )
    return report


def train_and_save(
    data_dir: Path | None,
    *,
    seed: int = 0,
    seed_dir: Path = SEED_DIR,
    out: Path = DEFAULT_ARTIFACT,
    test_file: Path | None = TEST_FILE,
    care_dir: Path | None = CARE_DIR,
    care_weight: float | None = None,
) -> dict[str, Any]:
    """Train and write the artifact ``out`` (figures and training record in its manifest);
    return the manifest."""
    cfg = TrainConfig() if care_weight is None else TrainConfig(care_weight=care_weight)
    model, val = train_intent(data_dir, seed=seed, seed_dir=seed_dir, cfg=cfg, care_dir=care_dir)
    report = validation_report(model, val, data_dir, test_file)
    metrics: dict[str, Any] = {
        name: {
            "macro_f1": round(float(r["macro_f1"]), 4),
            "accuracy": round(float(r["accuracy"]), 4),
            "n": r["n"],
            "per_class_f1": {k: round(float(v["f1"]), 4) for k, v in r["per_class"].items()},
        }
        for name, r in report.items()
    }
    metrics["headline"] = {name: figures["macro_f1"] for name, figures in metrics.items()}
    training = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "data": {
            "seed_sets": ["training/intent_seed_fr.jsonl", "training/intent_seed_en.jsonl"],
            "care_sets": [
                f"training/care_{lang}.jsonl"
                for lang in ("fr", "en", "nl")
                if care_dir is not None and (care_dir / f"care_{lang}.jsonl").is_file()
            ],
            "datasets": [f"intent/{name}/train.jsonl" for name in DATASET_MAPS] if data_dir else [],
            "held_out": "25 % of the seed sets, stratified by language and label; 20 % of "
            "the care sets, stratified by language, sentiment and intent",
        },
        **model.metadata,
        "cue_weights": {
            name: {lab: round(float(w), 3) for lab, w in zip(LABELS, row, strict=True)}
            for name, row in zip(CUE_NAMES, model.cue_weights, strict=True)
        },
    }
    command = f"clameur train intent --data {data_dir} --seed {seed}" + (
        f" --care-weight {care_weight:g}" if care_weight is not None else ""
    )
    return model.save(out, command=command, metrics=metrics, training=training)
