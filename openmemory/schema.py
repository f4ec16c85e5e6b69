"""Every operation documents the errors it can answer, in the one shape the exception handler gives them."""
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField(help_text="A sentence saying what is wrong.")
    code = serializers.CharField(help_text="invalid, not_authenticated, access_denied, app_paused, not_found, ...")
    errors = serializers.DictField(required=False, help_text="Field errors, as DRF shapes them (400 only).")


_ERRORS = {
    "400": "Bad input: the sentence names the field.",
    "401": "No token, or a bad one.",
    "403": "Not yours, a paused app, or an access rule.",
    "404": "No such object (another user's looks the same).",
    "409": "A conflict with what is stored.",
    "429": "Too many requests: see Retry-After.",
    "503": "A dependency (embedder, LLM, vector store) is down: try again.",
}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction == "response" and self.path.startswith("/api/v1/"):
            for status, description in _ERRORS.items():
                if status not in responses:
                    responses[status] = self._get_response_for_code(ErrorOut, status)
                    responses[status]["description"] = description
        return responses
