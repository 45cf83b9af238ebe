"""Lead scoring (线索评分, ADR 0004), pure: behaviour points with decay, attribute-fit rules, the
predicted score of a logistic regression stored as JSON, and their weighted combination with an
explanation whose integer contributions add up to the score. No Django, no clock: pass as-of."""

from .attributes import OPS, AttributeRuleSpec, attribute_points, field_text, rule_matches
from .behaviour import (
    DIGEST_DTYPE,
    RECENT_WINDOW_DAYS,
    BehaviourEvent,
    BehaviourInputs,
    EventKindRule,
    behaviour_raw,
    behaviour_score,
    decay_factor,
    decayed_points,
    decayed_weights,
    digest_inputs,
    digest_pack,
    kind_key,
    micros,
)
from .combine import (
    DEFAULT_WEIGHTS,
    PARTS,
    WEIGHT_SCALE,
    LeadColumns,
    LeadScore,
    ScoredBatch,
    ScoringConfig,
    Weights,
    band_of,
    largest_remainder,
    score_batch,
)
from .predicted import (
    CATEGORY_FIELDS,
    BehaviourColumns,
    Feature,
    LinearModel,
    feature_matrix,
    features_for,
    predict,
    vocabulary_of,
)

__all__ = [
    "CATEGORY_FIELDS", "DEFAULT_WEIGHTS", "DIGEST_DTYPE", "OPS", "PARTS", "RECENT_WINDOW_DAYS", "WEIGHT_SCALE",
    "AttributeRuleSpec", "BehaviourColumns", "BehaviourEvent", "BehaviourInputs", "EventKindRule", "Feature",
    "LeadColumns", "LeadScore", "LinearModel", "ScoredBatch", "ScoringConfig", "Weights", "attribute_points", "band_of",
    "behaviour_raw", "behaviour_score", "decay_factor", "decayed_points", "decayed_weights", "digest_inputs",
    "digest_pack", "feature_matrix", "features_for", "field_text", "kind_key", "largest_remainder", "micros", "predict",
    "rule_matches", "score_batch", "vocabulary_of",
]
