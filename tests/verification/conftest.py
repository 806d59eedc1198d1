"""The verifier is a package of its own (verifier/carbon_verify): make it importable here the
way its README runs it from a checkout, PYTHONPATH=verifier."""
import pathlib
import sys

VERIFIER = pathlib.Path(__file__).resolve().parents[2] / "verifier"
if str(VERIFIER) not in sys.path:
    sys.path.insert(0, str(VERIFIER))
