"""Dictionary identification and learning, analysis-operator learning."""

from parsimony.dictionary.identification import (
    IdentifiabilityReport,
    bernoulli_gaussian,
    l1_criterion,
    l1_descent_direction,
    l1_local_minimum,
    l1_local_minimum_margins,
    necessary_condition,
    phase_transition,
    random_basis,
    transition_points,
)

__all__ = [
    "IdentifiabilityReport",
    "bernoulli_gaussian",
    "l1_criterion",
    "l1_descent_direction",
    "l1_local_minimum",
    "l1_local_minimum_margins",
    "necessary_condition",
    "phase_transition",
    "random_basis",
    "transition_points",
]

from parsimony.dictionary.learning import (  # noqa: E402
    LEARNERS,
    L1DictionaryLearning,
    compare_learners,
    dictionary_recovery,
)

__all__ += ["LEARNERS", "L1DictionaryLearning", "compare_learners", "dictionary_recovery"]
from parsimony.dictionary.analysis import (  # noqa: E402
    CONSTRAINTS,
    STEP_RULES,
    AnalysisOperatorLearning,
    analysis_denoise,
    analysis_objective,
    constraint_ablation,
    constraint_residuals,
    cosparse_signals,
    finite_difference_operator,
    operator_diagnostics,
    operator_recovery,
    patch_denoising_psnr,
    planted_recovery,
    random_untf,
    step_sizes,
    tight_frame_projection,
    unit_norm_projection,
    untf_projection,
)

__all__ += [
    "CONSTRAINTS",
    "STEP_RULES",
    "AnalysisOperatorLearning",
    "analysis_denoise",
    "analysis_objective",
    "constraint_ablation",
    "constraint_residuals",
    "cosparse_signals",
    "finite_difference_operator",
    "operator_diagnostics",
    "operator_recovery",
    "patch_denoising_psnr",
    "planted_recovery",
    "random_untf",
    "step_sizes",
    "tight_frame_projection",
    "unit_norm_projection",
    "untf_projection",
]
