"""Git clean filter for notebooks: what JupyterLab adds never reaches ``git status``.

``make venv`` (every set-up target) registers it in the clone's ``.git/config``::

    git config filter.nbclean.clean "tools/python tools/nbclean.py %f"

and ``.gitattributes`` maps ``*.ipynb`` to it. Git pipes a notebook through it whenever it
compares or stages the working file, so opening, running and saving a notebook in
JupyterLab leaves ``git status`` clean, and ``git add`` commits the stripped notebook.

What it does, reading the notebook on stdin and writing it on stdout:

1. nbstripout's stripping (outputs, execution counts, volatile cell metadata such as
   ``collapsed``/``scrolled``/``execution``), keeping cell ids (nbstripout would renumber
   them, which changes committed bytes);
2. the notebook-level ``kernelspec`` and ``language_info`` that the kernel fills in
   (JupyterLab writes ``"Python 3 (ipykernel)"`` and the interpreter's version) are taken
   from the version in git's index when the file is there, so a committed notebook's bytes
   never change; a new notebook gets the project's kernelspec and no ``language_info``.

Without a file name (``%f``) or outside git, step 2 uses the new-notebook rule.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import nbformat
from nbstripout import strip_output

#: volatile metadata nbstripout strips by default, plus the kernel-filled widget state
EXTRA_KEYS = [
    "metadata.signature",
    "metadata.widgets",
    "cell.metadata.collapsed",
    "cell.metadata.ExecuteTime",
    "cell.metadata.execution",
    "cell.metadata.heading_collapsed",
    "cell.metadata.hidden",
    "cell.metadata.scrolled",
    "cell.metadata.jupyter",
]

#: the notebook metadata the kernel fills in, and what a new notebook is committed with
KERNEL_KEYS = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": None,
}


def committed_metadata(path: str | None) -> dict | None:
    """The notebook-level metadata of ``path`` in git's index, or None if not there."""
    if not path:
        return None
    try:
        blob = subprocess.run(
            ["git", "cat-file", "blob", f":{path}"], capture_output=True, check=True
        ).stdout
        return json.loads(blob).get("metadata", {})
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError):
        return None


def clean(text: str, path: str | None = None) -> str:
    """The committed form of the notebook ``text`` (see the module docstring)."""
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nb = strip_output(nb, keep_output=False, keep_count=False, keep_id=True, extra_keys=EXTRA_KEYS)
    committed = committed_metadata(path)
    for key, default in KERNEL_KEYS.items():
        value = committed.get(key) if committed is not None else default
        if value is None:
            nb.metadata.pop(key, None)
        else:
            nb.metadata[key] = value
    out = io.StringIO()
    nbformat.write(nb, out, version=nbformat.NO_CONVERT)
    return out.getvalue()


def pre_save(model, path, **kwargs):
    """Jupyter server ``pre_save_hook``: JupyterLab saves the committed form of a notebook.

    With it (``make lab`` loads ``tools/jupyter_server_config.py``), saving or autosaving
    a notebook writes what :func:`clean` keeps, so the file stays byte-identical to the
    committed one unless its cells changed (git reports a filtered file modified when its
    size changes, even when the filter's output is unchanged). Outputs stay in the open
    browser tab; the executed notebooks of the stages are in ``results/``.
    """
    if model.get("type") != "notebook" or "content" not in model:
        return
    text = json.dumps(model["content"])
    model["content"] = json.loads(clean(text, path))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else None
    text = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(clean(text, path).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
