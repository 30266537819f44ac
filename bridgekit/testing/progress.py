"""The outbox row's delivery progress, for a plugin's own ``bridgekit_deliver`` tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridgekit.model import OutboundMessage


class KeptProgress:
    """Stands in for the outbox row: what one attempt's ``save_progress`` wrote is the next
    attempt's ``message.progress``, even in a new plugin instance (a restart).

    ::

        row = KeptProgress()
        with pytest.raises(TransientDeliveryError):
            await plugin.bridgekit_deliver(integration, row.attempt(message))
        await NewPlugin().bridgekit_deliver(integration, row.attempt(message))  # resumes
    """

    def __init__(self) -> None:
        self.progress: Mapping[str, Any] = {}

    async def save(self, progress: Mapping[str, Any]) -> None:
        self.progress = dict(progress)

    def attempt(self, message: OutboundMessage) -> OutboundMessage:
        """``message`` as the outbox hands it to the next attempt."""
        return dataclasses.replace(message, progress=self.progress, save_progress=self.save)
