"""The notebook-style example runs and reproduces the paper's median r for session 190923."""

import os
import re
import subprocess
import sys

from conftest import ROOT


def test_session_example(data):
    env = dict(os.environ, CORTEXLENS_DATA_DIR=str(data))
    result = subprocess.run([sys.executable, str(ROOT / "python" / "examples" / "session_190923.py")],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    median = re.search(r"median r over 33 neurons, images 601-1200: (\d\.\d+)", result.stdout)
    assert median and median.group(1) == "0.636", result.stdout
    top = re.findall(r"^  \d\. (.+): (-?\d+\.\d+)$", result.stdout, re.M)
    assert len(top) == 5 and float(top[0][1]) >= float(top[-1][1])
