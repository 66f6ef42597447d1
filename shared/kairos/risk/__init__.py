"""The risk guardian: every order intent checked against limits, kill switches and the freshness
of what the check needs before it becomes a trade command; approvals the executor requires."""
