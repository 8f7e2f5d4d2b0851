"""JupyterLab settings for ``make lab`` (``jupyter lab --config=tools/jupyter_server_config.py``).

Saving a notebook writes its committed form (no outputs, the committed kernel metadata):
see :func:`nbclean.pre_save`. Together with the ``nbclean`` git filter, opening, running
and saving a notebook leaves ``git status`` clean.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbclean import pre_save  # noqa: E402

c = get_config()  # noqa: F821
c.FileContentsManager.pre_save_hook = pre_save
