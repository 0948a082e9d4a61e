"""``python -m chainrule.lab`` (chainrule/lab/__main__.py) runs and shows its help."""

import subprocess
import sys


def test_python_dash_m_help():
    done = subprocess.run([sys.executable, "-m", "chainrule.lab", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "--smoke" in done.stdout and "vanishing" in done.stdout
