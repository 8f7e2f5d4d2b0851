"""Offline datasets: the builder of ``data/`` and the loaders that read it.

``python -m parsimony.data build`` writes every raw input the pipeline reads into ``data/``
from offline sources only (scikit-learn's bundled digits, the ``mnist1d`` procedural
generator with a fixed seed, scikit-image's bundled images, the license
texts bundled in the pinned torch wheel), byte for byte the same on
every machine; ``data.dvc`` records the hashes. The loaders read those files and fail with
a clear message when ``data/`` has not been built. :mod:`~parsimony.data.tasks` turns
them into train / valid / test splits and tasks (one ``digits_split``, one ``Task``).
"""

from parsimony.data.build import BUILDERS, build
from parsimony.data.loaders import IMAGE_NAMES, load_digits, load_image, load_mnist1d, load_text
from parsimony.data.tasks import Task, digits_split, mnist1d_split, standardize

__all__ = [
    "BUILDERS",
    "IMAGE_NAMES",
    "Task",
    "build",
    "digits_split",
    "load_digits",
    "load_image",
    "load_mnist1d",
    "load_text",
    "mnist1d_split",
    "standardize",
]
