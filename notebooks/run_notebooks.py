#!/usr/bin/env python3
"""Executes the notebooks headless on the shipped result set (notebooks/data/), as CI does.

    python notebooks/run_notebooks.py [--explore RESULTS_DIR ...] [--out DIR] [--timeout SECONDS]

Runs explore_results.ipynb on data/capif-single and on data/n32-ri-reject-encodings (and on each
--explore folder, e.g. a fresh `secsim run`), and compare_ffs.ipynb on its default pair, each
with the working directory notebooks/. Exits non-zero if any cell raises. The kernel is this interpreter (a kernelspec written to a temporary
JUPYTER_PATH), so running it with a venv's python uses that venv's packages. --out keeps the
executed notebooks there (the committed ones stay without outputs).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
KERNEL = "secsim-notebooks"

# (notebook, label, environment for the kernel)
RUNS = [
    ("explore_results.ipynb", "explore capif-single", {"SECSIM_RESULTS": "data/capif-single"}),
    ("explore_results.ipynb", "explore n32-ri-reject-encodings", {"SECSIM_RESULTS": "data/n32-ri-reject-encodings"}),
    ("compare_ffs.ipynb", "compare ExplicitCause vs TlsFailureOnly", {}),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--explore", type=Path, action="append", default=[], metavar="RESULTS_DIR",
                    help="also run explore_results.ipynb on this results folder")
    ap.add_argument("--out", type=Path, help="write the executed notebooks here")
    ap.add_argument("--timeout", type=int, default=300, help="per-cell timeout in seconds")
    args = ap.parse_args()

    kernels = Path(tempfile.mkdtemp(prefix="secsim-nb-"))
    spec = kernels / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "secsim notebooks", "language": "python",
    }))
    os.environ["JUPYTER_PATH"] = str(kernels) + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    runs = RUNS + [("explore_results.ipynb", f"explore {d}", {"SECSIM_RESULTS": str(d.resolve())})
                   for d in args.explore]
    failed = 0
    for name, label, env in runs:
        nb = nbformat.read(HERE / name, as_version=4)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # the kernel inherits this process's environment
        t0 = time.monotonic()
        try:
            NotebookClient(nb, timeout=args.timeout, kernel_name=KERNEL,
                           resources={"metadata": {"path": str(HERE)}}).execute()
            status = "ok"
        except Exception as e:  # CellExecutionError, CellTimeoutError, DeadKernelError
            status = "FAILED"
            failed += 1
            print(str(e), file=sys.stderr)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        print(f"{status:6} {label} ({name}, {time.monotonic() - t0:.1f} s)", flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
            nbformat.write(nb, args.out / f"{stem}.ipynb")
    shutil.rmtree(kernels, ignore_errors=True)
    print(f"{len(runs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
