"""The README's commands are the ones CI and a new user run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = next(b for b in blocks if b.rstrip().endswith("pytest"))
    # CI creates the venv itself, then runs the same install-and-test command
    install_and_test = test_command.split("&& ", 2)[-1]
    assert install_and_test in ci


def test_readme_has_a_demo_command():
    readme = (ROOT / "README.md").read_text()
    assert "python -m tinygrad_mlp demo" in readme
