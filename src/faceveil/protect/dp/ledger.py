"""A privacy-budget ledger: what releases have cost each identity, under basic composition.

Each protected photo of a person is one eps-DP release about that person; k releases compose to at
most ``sum of their eps`` (basic composition, Dwork and Roth 2014, Theorem 3.14; pure eps-DP, delta = 0
for DP-Pix, and the claimed eps_0 for seed 004's methods, whose guarantee docs/dp.md disputes). The ledger
adds the spend per identity, refuses a run that would take any identity past a cap, and can be kept in
a JSON file across runs. The file names identities: it is private to whoever runs the protection.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from ..._checks import check_positive

FORMAT = "faceveil-dp-ledger-v1"


class BudgetExceeded(ValueError):
    """A run would take an identity past the budget cap."""


class Ledger:
    """Spent eps per identity (basic composition), optionally read from and written to a JSON file."""

    def __init__(self, spent: dict[str, float] | None = None) -> None:
        self.spent: dict[str, float] = dict(spent or {})

    @classmethod
    def load(cls, path: str | Path) -> Ledger:
        """The ledger of ``path``; an empty one when the file does not exist yet."""
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{path} is not a faceveil budget ledger: {err}") from err
        if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("spent"), dict):
            raise ValueError(f"{path} is not a faceveil budget ledger (format {FORMAT})")
        return cls({str(k): float(v) for k, v in record["spent"].items()})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"format": FORMAT, "composition": "basic (sum of eps per identity)",
                                    "spent": self.spent}, indent=1, sort_keys=True))
        return path

    def after(self, identities: list[str], epsilon: float) -> dict[str, float]:
        """The spend of every identity of ``identities`` (one entry per release) once they are added."""
        check_positive(epsilon, "epsilon")
        counts = Counter(identities)
        return {who: math.fsum([self.spent.get(who, 0.0), n * epsilon]) for who, n in counts.items()}

    def check(self, identities: list[str], epsilon: float, budget: float | None) -> dict[str, float]:
        """:meth:`after`, raising :class:`BudgetExceeded` (naming how many identities) if any passes ``budget``."""
        totals = self.after(identities, epsilon)
        if budget is not None:
            over = {who: total for who, total in totals.items() if total > check_positive(budget, "budget") * (1 + 1e-12)}
            if over:
                worst = max(over.values())
                raise BudgetExceeded(f"this run would take {len(over)} identit{'y' if len(over) == 1 else 'ies'} past "
                                     f"--budget {budget:g} (up to {worst:g} under basic composition); nothing was "
                                     "written")
        return totals

    def spend(self, identities: list[str], epsilon: float) -> None:
        """Record one release of ``epsilon`` per entry of ``identities``."""
        self.spent.update(self.after(identities, epsilon))
