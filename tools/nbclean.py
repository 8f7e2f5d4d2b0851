"""Git clean filter for notebooks: what JupyterLab adds never reaches ``git status``.

``make venv`` (every set-up target) registers it in the clone's ``.git/config``::

    git config filter.nbclean.clean "tools/python tools/nbclean.py %f"

and ``.gitattributes`` maps ``*.ipynb`` to it. Git pipes a notebook through it whenever it
compares or stages the working file, so opening, running and saving a notebook in
JupyterLab leaves ``git status`` clean, and ``git add`` commits the stripped notebook.

What it does, reading the notebook on stdin and writing it on stdout:

1. what nbstripout strips (outputs, execution counts, volatile cell metadata such as
   ``collapsed``/``scrolled``/``execution``), keeping cell ids (nbstripout would renumber
   them, which changes committed bytes); standard library only (git runs it once per
   touched notebook: it must start fast, and it works without the virtual env);
2. the notebook-level ``kernelspec`` and ``language_info`` that the kernel fills in
   (JupyterLab writes ``"Python 3 (ipykernel)"`` and the interpreter's version) are taken
   from the version in git's index when the file is there, so a committed notebook's bytes
   never change; a new notebook gets the project's kernelspec and no ``language_info``.

Without a file name (``%f``) or outside git, step 2 uses the new-notebook rule.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: notebook metadata that is session state, never committed
NOTEBOOK_KEYS = ("signature", "widgets")

#: cell metadata that JupyterLab and its extensions write while one works (nbstripout's list)
CELL_KEYS = ("collapsed", "ExecuteTime", "execution", "heading_collapsed", "hidden", "scrolled",
             "jupyter")  # fmt: skip

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


def _lines(source):
    """A cell source as nbformat writes it: a list of lines, each with its newline."""
    return source.splitlines(True) if isinstance(source, str) else source


def strip(nb: dict, committed: dict | None) -> dict:
    """Strip the notebook ``nb`` (a dict, modified and returned); see the module docstring."""
    for cell in nb.get("cells", []):
        cell["source"] = _lines(cell.get("source", []))
        for key in CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    meta = nb.setdefault("metadata", {})
    for key in NOTEBOOK_KEYS:
        meta.pop(key, None)
    for key, default in KERNEL_KEYS.items():
        value = committed.get(key) if committed is not None else default
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return nb


def clean(text: str, path: str | None = None) -> str:
    """The committed form of the notebook ``text`` (see the module docstring).

    Written as ``nbformat.write`` writes (sorted keys, indent 1, UTF-8, final newline), with
    the standard library only, so that the filter starts fast and needs no virtual env.
    """
    nb = strip(json.loads(text), committed_metadata(path))
    return (
        json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": ")) + "\n"
    )


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
    model["content"] = strip(model["content"], committed_metadata(path))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else None
    data = sys.stdin.buffer.read()
    try:
        out = clean(data.decode("utf-8"), path).encode("utf-8")
    except (ValueError, AttributeError, TypeError):  # not a notebook (e.g. conflict markers)
        out = data
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
