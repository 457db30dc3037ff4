"""Commit order per document for subscribers.

Two processes may publish changes of one document close together and out of commit order.
Every event carries the document's revision; a subscriber delivers a revision only if it is
newer than the last one it delivered (or saw in its snapshot) for that document.
"""

from __future__ import annotations


class Revisions:
    def __init__(self) -> None:
        self._latest: dict[str, int] = {}

    def is_new(self, document_id: str, revision: int) -> bool:
        """Whether this revision is newer than any seen; if so it becomes the latest."""
        if revision <= self._latest.get(document_id, 0):
            return False
        self._latest[document_id] = revision
        return True
