"""The public names resolve lazily to the right objects, and import stays light."""

import subprocess
import sys

import climetrics as cm


def test_lazy_names_resolve():
    from climetrics.estimate.baseline.event_study import event_study
    from climetrics.estimate.did.callaway_santanna import callaway_santanna
    from climetrics.estimate.robustness.placebo import placebo_test

    assert cm.event_study is event_study and cm.placebo_test is placebo_test
    assert cm.callaway_santanna is callaway_santanna
    assert callable(cm.robustness.shift_timing) and callable(cm.simulate)
    for name in cm.__all__:
        assert getattr(cm, name) is not None


def test_import_does_not_load_heavy_modules():
    code = "import sys, climetrics; print(any(m in sys.modules for m in ('pyfixest', 'matplotlib', 'statsmodels')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
