"""Dictionary identification and learning, analysis-operator learning.

Algorithms only; each paper's sweeps and claim statistics live in
:mod:`parsimony.dictionary.experiments`.
"""

from parsimony.dictionary.analysis import (
    STEP_RULES,
    AnalysisOperatorLearning,
    analysis_denoise,
    analysis_objective,
    cosparse_signals,
    finite_difference_operator,
    operator_recovery,
    projected_subgradient,
    step_sizes,
)
from parsimony.dictionary.identification import (
    IdentifiabilityReport,
    bernoulli_gaussian,
    l1_criterion,
    l1_descent_direction,
    l1_local_minimum,
    l1_local_minimum_margins,
    necessary_condition,
    random_basis,
)
from parsimony.dictionary.learning import L1DictionaryLearning, dictionary_recovery
from parsimony.dictionary.untf import (
    CONSTRAINTS,
    constraint_residuals,
    random_untf,
    tight_frame_projection,
    unit_norm_projection,
    untf_projection,
    untf_round,
)

__all__ = [
    "CONSTRAINTS",
    "STEP_RULES",
    "AnalysisOperatorLearning",
    "IdentifiabilityReport",
    "L1DictionaryLearning",
    "analysis_denoise",
    "analysis_objective",
    "bernoulli_gaussian",
    "constraint_residuals",
    "cosparse_signals",
    "dictionary_recovery",
    "finite_difference_operator",
    "l1_criterion",
    "l1_descent_direction",
    "l1_local_minimum",
    "l1_local_minimum_margins",
    "necessary_condition",
    "operator_recovery",
    "projected_subgradient",
    "random_basis",
    "random_untf",
    "step_sizes",
    "tight_frame_projection",
    "unit_norm_projection",
    "untf_projection",
    "untf_round",
]
