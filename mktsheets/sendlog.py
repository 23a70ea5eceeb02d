"""The send log: one JSON line per delivered (or failed) scorecard email, kept in the outbox.

Re-running `mktsheets email --send` reads it to skip people already sent to. Each
record is flushed to disk right after the server accepted the message, so a crash
between two messages never causes a second copy. It holds no secrets: time,
period, person, address, Message-ID, status and the server's reply on failure.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .rules.context import key_of

LOG_NAME = "send-log.jsonl"
SENT = "sent"
FAILED = "failed"


class SendLog:
    def __init__(self, outbox: str | Path):
        self.path = Path(outbox) / LOG_NAME

    def records(self) -> list[dict]:
        """Every readable record, oldest first (a torn last line from a crash is ignored)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def sent(self, period: str) -> dict[str, dict]:
        """person key -> the last 'sent' record of that period."""
        out = {}
        for rec in self.records():
            if rec.get("status") == SENT and rec.get("period") == period and rec.get("person"):
                out[key_of(rec["person"])] = rec
        return out

    def append(self, *, period: str, person: str, address: str, message_id: str, status: str,
               cc: list[str] | None = None, error: str = "") -> dict:
        rec = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "period": period, "person": person, "address": address, "message_id": message_id,
            "status": status,
        }
        if cc:
            rec["cc"] = cc
        if error:
            rec["error"] = error
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return rec
