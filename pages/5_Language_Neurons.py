"""Language Neurons: LAPE neurons per layer and language, their overlap, switching them off, and across checkpoints."""
import streamlit as st

from ui.widgets import state
from ui.widgets.links import ensure_app_router
from ui.widgets.models import selected_models
from ui.neurons import render_ablation, render_comparison, render_neuron_overview

ensure_app_router()

st.title("Language-specific neurons")
st.caption("LAPE (Tang et al. 2024): FFN neurons whose firing probability concentrates on one or a few languages. "
           "Identified on bundled text in en, hi, fr and es (or with `python -m mlt_core neurons identify`).")

paths = state.checkpoint_paths()  # name -> folder, checkpoints in models/ only
if not paths:
    st.info("No checkpoints in models/ yet: build the demo ones on the Home page.")
    st.stop()
names = list(paths)
for note in state.restore("neurons", {"ckpt": ("neurons_ckpt", state.parse_choice(names))}):
    st.warning(note)
selected = [state.model_name(p) for p in selected_models() if state.model_name(p) in paths]
if st.session_state.get("neurons_ckpt") not in paths:
    st.session_state["neurons_ckpt"] = "demo-base" if "demo-base" in paths else (selected or names)[0]
name = st.selectbox("Checkpoint", names, key="neurons_ckpt")

# the section names the checkpoint; its charts' titles say what each shows (a heading saying it too repeats them)
st.subheader(f"{name}: its language neurons")
obj = render_neuron_overview(paths[name])

if obj is not None:
    st.subheader("Switch a language's neurons off")
    st.caption("Rows: the language whose neurons are zeroed in every layer; columns: accuracy per evaluation "
               "language. Does switching off L's neurons hurt L most?")
    render_ablation(paths[name], obj)

st.subheader("Across checkpoints: do tuned models still use the base model's neurons?")
st.caption("Neurons identified on every checkpoint over the same bundled text. Left: how often the first "
           "checkpoint's (the base's) L neurons fire on L text inside each checkpoint. Right: each checkpoint's "
           "own re-identified neurons vs the base's (Jaccard).")
demo = [n for n in ("demo-base", "demo-en", "demo-hi", "demo-en-hi") if n in paths]
render_comparison(paths, demo if len(demo) >= 2 else list(dict.fromkeys([name, *selected]))[:3])

state.publish("neurons", {"ckpt": name})
