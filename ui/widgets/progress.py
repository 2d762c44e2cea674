"""Long work on a button: a progress bar with a time estimate, and a Cancel button.

Streamlit stops a script run when the user touches a widget (the run ends at its next Streamlit
call), so a Cancel button drawn before the work starts cancels it at the next progress update;
the rerun it triggers sees `cancelled(key)` True and says so. Work already finished stays
cached, so Run again resumes where it stopped. Other browser tabs and pages are their own
sessions (threads): a run here never blocks them.
"""
from __future__ import annotations

import time

import streamlit as st


def eta(done: float, total: float, started: float) -> str:
    """'about 40 s left' from the pace so far (or 'estimating…' before the first step is done)."""
    if done <= 0 or total <= 0:
        return "estimating…"
    left = (time.monotonic() - started) / done * max(total - done, 0)
    return f"about {left:.0f} s left" if left < 90 else f"about {left / 60:.0f} min left"


class Progress:
    """st.progress with an estimate: `step(done, total, what)` moves it; `.callback` fits (done, total) APIs."""

    def __init__(self, text: str, cancel_key: str | None = None):
        self.text, self.started = text, time.monotonic()
        self.box = st.empty()  # the Cancel button and the bar, removed together when the work is done
        with self.box.container():
            if cancel_key:
                st.button("Cancel", key=cancel_key, help="Stops at the next step; finished work stays cached, so "
                          "Run again resumes.")
            self.bar = st.progress(0.0, text=f"{text} (estimating…)")

    def step(self, done: float, total: float, what: str = "") -> None:
        frac = min(1.0, done / max(total, 1e-9))
        self.bar.progress(frac, text=f"{self.text} {what} ({eta(done, total, self.started)})".replace("  ", " "))

    def callback(self, done: int, total: int) -> None:
        self.step(done, total, f"{done}/{total}")

    def close(self) -> None:
        self.box.empty()


def cancelled(key: str) -> bool:
    """True in the rerun triggered by pressing the Cancel button of `key`."""
    return bool(st.session_state.get(key))
