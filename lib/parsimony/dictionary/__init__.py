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
]
