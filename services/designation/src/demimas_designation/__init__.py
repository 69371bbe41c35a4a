"""The designation workflow service (issue 4; in progress: the domain rules exist, the service does not yet)."""
