"""Session set-up shared by every test directory.

The soma-workflow oracle (``tests/soma_oracle.py``) is put first on ``sys.path`` before
any test module is collected, so ``import soma_workflow`` in a test module is the real
soma-workflow 6.0.13, never swf's own ``soma_workflow`` alias package.
"""

from __future__ import annotations

from tests import soma_oracle

soma_oracle.use_in_process()
