import sys
from pathlib import Path

# an4_data.py is a plain helper module beside the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent))
