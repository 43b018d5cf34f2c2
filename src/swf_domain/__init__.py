"""swf's pure core: the workflow model and its rules (standard library only, no I/O)."""
