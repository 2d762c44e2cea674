"""Playground: one premise/hypothesis pair through the selected models, every view from one forward each."""
from ui.widgets.guard import user_errors
from ui.widgets.links import ensure_app_router
from ui.playground import render

ensure_app_router()
with user_errors():  # the views catch expected errors per model; this is the last net
    render()
