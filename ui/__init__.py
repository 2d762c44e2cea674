"""The only place where Streamlit meets mlt_core: caching, session state, shared widgets."""
