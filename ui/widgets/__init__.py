"""Widgets and Streamlit glue shared by several pages (models, URL state, links, downloads, the sidebar)."""
