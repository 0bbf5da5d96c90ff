"""Which people a trained model has seen, and the check that it is never scored on them.

Every checkpoint stores :func:`identity_record` of the identities it trained on; every evaluation of a
trained model calls :func:`check_unseen` on the people of the pairs it scores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


#: the identity record of a model that trained on faces but did not record whose (older checkpoints)
UNKNOWN_IDENTITIES = {"unknown": True}


class SeenIdentitiesError(ValueError):
    """A trained model would be scored on people it trained on (or on people it may have trained on)."""

    def __init__(self, overlap: list[str] | None, n_scored: int, what: str) -> None:
        self.overlap = overlap
        remedy = ("Use a person-disjoint protocol (--protocol), or pass --allow-seen-identities to score anyway "
                  "(recorded in result.json)")
        if overlap is None:
            super().__init__(f"{what} does not record the people it trained on, so it may have seen the "
                             f"{n_scored} people these pairs use. {remedy}")
            return
        shown = ", ".join(overlap[:5]) + (", ..." if len(overlap) > 5 else "")
        super().__init__(f"{what} trained on {len(overlap)} of the {n_scored} people these pairs use ({shown}); "
                         f"its scores would be measured on identities it saw. {remedy}")


def identity_digest(names: Iterable[str]) -> str:
    """SHA-256 of the sorted, de-duplicated names joined by newlines (hex)."""
    return hashlib.sha256("\n".join(sorted(set(names))).encode()).hexdigest()


def identity_record(names: Iterable[str]) -> dict:
    """``{"count", "digest", "names"}`` of a set of identities (names sorted), as checkpoints store it."""
    unique = sorted(set(names))
    return {"count": len(unique), "digest": identity_digest(unique), "names": unique}


def check_record(record: dict) -> dict:
    """Return ``record`` if its digest matches its names, else raise ``ValueError`` (a corrupted record)."""
    if not isinstance(record, dict) or not isinstance(record.get("names"), list):
        raise ValueError(f"an identity record needs a list of names, got {type(record).__name__}")
    if identity_digest(record["names"]) != record.get("digest"):
        raise ValueError("the identity record's digest does not match its names: the checkpoint was altered")
    return record


def seen_identities(trained: dict, scored: Iterable[str]) -> list[str]:
    """The sorted names of ``scored`` that the model of identity record ``trained`` saw."""
    return sorted(set(check_record(trained)["names"]) & set(scored))


def check_unseen(trained: dict | None, scored: Iterable[str], allow: bool = False,
                 what: str = "the model") -> dict:
    """Refuse to score a model on people it trained on.

    Args:
        trained: the identity record of the model (None: a model that trained on no faces, e.g. a
            pretrained judge; nothing to check; :data:`UNKNOWN_IDENTITIES`: trained on unrecorded people).
        scored: the names of every person of the pairs about to be scored.
        allow: score anyway (``--allow-seen-identities``).
        what: the model, as the message names it.

    Returns:
        ``{"seen_identities": n (None where the model did not record its people), "scored_identities": m,
        "allowed": True where people it trained on are scored because ``allow``}``, for ``result.json``.

    Raises:
        SeenIdentitiesError: some scored people were trained on, and ``allow`` is False.
    """
    scored = set(scored)
    if trained is not None and trained.get("unknown"):
        if not allow:
            raise SeenIdentitiesError(None, len(scored), what)
        return {"seen_identities": None, "scored_identities": len(scored), "allowed": True}
    overlap = [] if trained is None else seen_identities(trained, scored)
    if overlap and not allow:
        raise SeenIdentitiesError(overlap, len(scored), what)
    return {"seen_identities": len(overlap), "scored_identities": len(scored), "allowed": bool(allow and overlap)}
