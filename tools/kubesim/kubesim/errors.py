"""API errors and the Status objects they become on the wire."""


class ApiError(Exception):
    """An error the API server reports as a Status object.

    code: HTTP status; reason: a StatusReason (NotFound, AlreadyExists,
    Conflict, Invalid, Gone, BadRequest, ...); message: human text.
    """

    def __init__(self, code, reason, message, details=None, retry_after=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after

    def status(self):
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code, reason, message, details=None):
    st = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if 200 <= code < 300 else "Failure",
        "message": message,
        "code": code,
    }
    if reason:
        st["reason"] = reason
    if details:
        st["details"] = details
    return st


def _qualified(group, resource):
    return resource if not group else "%s.%s" % (resource, group)


def not_found(group, resource, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (_qualified(group, resource), name),
                    {"name": name, "group": group, "kind": resource})


def already_exists(group, resource, name):
    return ApiError(409, "AlreadyExists",
                    '%s "%s" already exists' % (_qualified(group, resource), name),
                    {"name": name, "group": group, "kind": resource})


def conflict(group, resource, name, why):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": %s'
                    % (_qualified(group, resource), name, why),
                    {"name": name, "group": group, "kind": resource})


def invalid(group, kind, name, causes):
    """causes: list of (field, message)."""
    msg = '%s "%s" is invalid: %s' % (kind if not group else "%s.%s" % (kind, group), name,
                                      "; ".join("%s: %s" % c for c in causes))
    return ApiError(422, "Invalid", msg, {
        "name": name, "group": group, "kind": kind,
        "causes": [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]})


def gone(message):
    return ApiError(410, "Expired", message)


def bad_request(message):
    return ApiError(400, "BadRequest", message)
