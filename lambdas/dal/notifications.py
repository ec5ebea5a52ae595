"""Success/failure notifications on the workflow's SNS topic (skipped when none is set)."""

from __future__ import annotations

import json
from typing import Any

from lambdas.dal.clients import client
from lambdas.shared.settings import environment


def notify(subject: str, message: dict[str, Any]) -> bool:
    topic = environment().notification_topic_arn
    if not topic:
        return False
    client("sns").publish(TopicArn=topic, Subject=subject[:100], Message=json.dumps(message, indent=2))
    return True
