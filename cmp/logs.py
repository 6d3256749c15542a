"""How the platform's log reads.

Django logs a refused request (403) with the ``PermissionDenied`` traceback
that refused it. A refusal is the permission system doing its job (an
auditor opening an add page, say), so it is logged as its one line.
"""
import logging


class RefusalsWithoutTraceback(logging.Filter):
    def filter(self, record):
        if getattr(record, "status_code", None) == 403:
            record.exc_info = record.exc_text = None
        return True
