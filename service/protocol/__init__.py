"""The CDS Hooks 2.0 wire format: lenient schemas for what clients send, strict checks for what we send."""

from __future__ import annotations

from service.protocol.enums import FeedbackOutcome
from service.protocol.enums import Hook
from service.protocol.enums import Indicator
from service.protocol.requests import FeedbackItem
from service.protocol.requests import HookRequest
from service.protocol.requests import parse_feedback
from service.protocol.requests import parse_hook_request
from service.protocol.responses import response_problems

__all__ = [
    "FeedbackItem",
    "FeedbackOutcome",
    "Hook",
    "HookRequest",
    "Indicator",
    "parse_feedback",
    "parse_hook_request",
    "response_problems",
]
