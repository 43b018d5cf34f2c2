"""swf's use cases (submit, query, control, engine tick) and the ports they need."""
