"""Services: each public function is one action in one transaction.

They call the domain core, write the audit trail and queue notifications; they
flush but never commit: the request or job boundary commits, so a failure
anywhere leaves nothing half-written. The web views, the API, the CLI and the
scheduler all come through here.
"""
