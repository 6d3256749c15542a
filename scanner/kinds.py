"""The names the scanner's records share: kinds of item and the three passes of a page."""

COOKIE, LOCAL_STORAGE, SESSION_STORAGE, REQUEST = "cookie", "local_storage", "session_storage", "request"
KINDS = [(COOKIE, "Cookie"), (LOCAL_STORAGE, "localStorage key"), (SESSION_STORAGE, "sessionStorage key"), (REQUEST, "Request to")]
STORAGE_KINDS = (COOKIE, LOCAL_STORAGE, SESSION_STORAGE)

# Each page is opened three times, each in a fresh browser profile.
BEFORE, REJECT, ACCEPT = "before", "reject", "accept"
PHASES = [(BEFORE, "Before any choice"), (REJECT, "After Reject all"), (ACCEPT, "After Accept all")]
# What is set or requested in these passes must be essential.
GUARDED_PHASES = (BEFORE, REJECT)
