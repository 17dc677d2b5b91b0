"""Joint work across organisations: cases, tasks, task logs, comments and linked objects as STIX 2.1 content."""
