import json
import subprocess
import sys


def test_help_imports_no_heavy_library():
    """``riskmodel --help`` (and the group itself) loads neither scikit-learn, scipy,
    pandas, matplotlib nor numpy."""
    code = ("import json, sys\nfrom click.testing import CliRunner\n"
            "from commands.main import main\n"
            "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sklearn', 'scipy', 'pandas', 'matplotlib', 'numpy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
