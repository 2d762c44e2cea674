"""Tokenizers: how finely each tokenizer cuts each language, and whether that tracks attribution faithfulness."""
import streamlit as st

from mlt_core.attribution.faithfulness import CONVENTIONS
from mlt_core.charts.attributions import METRICS, correlation_scatter, fertility_bars
from mlt_core.eval.fertility import DEFAULT_WORDS, WORD_DEFINITIONS, fertility_faithfulness
from ui import attributions as A
from ui import tokenizers as T
from ui.widgets import state
from ui.widgets.download import figure_downloads
from ui.widgets.guard import user_errors
from ui.widgets.links import ensure_app_router
from ui.widgets.models import selected_models

ensure_app_router()
st.title("Tokenizers")
st.caption("Fertility = subwords per word (by default whitespace words with leading/trailing punctuation split off "
           "as words of their own, as in Rust et al. 2021; or the reference code's `text.split(' ')`, choose below); "
           "subwords per 100 characters compares scripts that do not "
           "separate words; unknown-token rate; share of words split into more than one subword. On the "
           "distinct premises and hypotheses of the bundled sample. Same as `python -m mlt_core fertility`.")
for note in state.restore("tok", {}):
    st.warning(note)

paths = selected_models()
c1, c2, c3 = st.columns([2, 2, 1])
langs = c1.multiselect("Languages", list(A.SAMPLE_LANGS), default=list(A.SAMPLE_LANGS), key="tok_langs")
extra = c2.text_input("More tokenizers (Hub ids or names in models/, comma-separated)", key="tok_extra",
                      help="e.g. xlm-roberta-base, bert-base-multilingual-cased (needs the internet or the HF cache)")
measure = c3.selectbox("Measure", ["fertility", "subwords_per_100_chars", "unk_rate", "split_share"], key="tok_measure")
word_def = st.radio("Words", list(WORD_DEFINITIONS), horizontal=True, key="tok_words",
                    index=list(WORD_DEFINITIONS).index(DEFAULT_WORDS),
                    help="\n".join(f"- **{k}**: {v}" for k, v in WORD_DEFINITIONS.items()))
if not langs:
    st.info("Pick at least one language.")
    st.stop()

sources = [(A.model_name(p), p, True) for p in paths]
for item in [x for x in extra.split(",") if x.strip()]:
    with user_errors(stop=False):  # a bad or unreachable (offline) tokenizer is reported; the rest still show
        name, src, is_model = T.tokenizer_source(item)
        if not is_model:
            T.hub_tokenizer(src)
        if name not in [n for n, _, _ in sources]:
            sources.append((name, src, is_model))
if not sources:
    st.info("No checkpoints in models/ yet: build the demo ones on the Home page, or name a Hub tokenizer above.")
    st.stop()
with user_errors():
    fert = T.fertility_table(tuple(sources), tuple(langs), 0, word_def)
st.caption(f"Words: **{word_def}**, {WORD_DEFINITIONS[word_def]}.")

chart = fertility_bars(fert, measure)
st.altair_chart(chart, width="stretch", key="tok_chart")
# the measures only (raw counts are in the CSV): 12 columns ran past a projector's column
st.dataframe(fert, hide_index=True, key="tok_table", width="stretch",
             column_order=["tokenizer", "lang", "words", "fertility", "subwords_per_100_chars", "unk_rate",
                           "split_share"],
             column_config={"fertility": st.column_config.NumberColumn("subwords / word", format="%.2f"),
                            "subwords_per_100_chars": st.column_config.NumberColumn("per 100 chars", format="%.1f"),
                            "unk_rate": st.column_config.NumberColumn("unknown", format="percent"),
                            "split_share": st.column_config.NumberColumn("words split", format="percent")})
figure_downloads(chart, fert, "fertility", key="tok_dl")

st.header("Fertility vs faithfulness")
st.caption("Across (model, language) points: does a language that its model's tokenizer cuts finer get less "
           "faithful attributions? Pearson and Spearman correlation per method and metric, with n points. "
           "Few points make these fragile: read n before the sign (and models sharing a tokenizer share x).")
per_example, run = A.latest_dataset()
if per_example is None:
    st.info("No dataset-scale faithfulness results yet: press **Run** under *At dataset scale* on the "
            "Attributions page, then come back.")
    st.stop()
settings = run["settings"]
faith = A.dataset_table(per_example)
with user_errors():  # each model's own tokenizer, on the whole sample of the run's languages
    own = T.fertility_table(tuple((A.model_name(p), p, True) for p in run["paths"]), tuple(settings["langs"]), 0,
                            word_def)
conv = settings.get("convention", "mlt")
und = faith.groupby(["model", "lang"])["undefined"].mean()
st.caption(f"From the latest run: {', '.join(sorted(faith['model'].unique()))} on {', '.join(settings['langs'])}, "
           f"{settings['n']} examples per language, IG steps {settings['steps']}; NS/NC convention **{conv}** "
           f"({CONVENTIONS.get(conv, conv)}). Undefined share (1 − S0 < 1e-4) per model and language: "
           + ", ".join(f"{m} {l} {v:.0%}" for (m, l), v in und.items() if v == v) + ".")
corr = fertility_faithfulness(own, faith, measure)
st.dataframe(corr, hide_index=True, key="tok_corr",
             column_config={c: st.column_config.NumberColumn(format="%.3f")
                            for c in ("pearson", "pearson_p", "spearman", "spearman_p")})
c1, c2 = st.columns(2)
method = c1.selectbox("Method", list(dict.fromkeys(faith["method"])), key="tok_corr_method")
metric = c2.selectbox("Metric", list(METRICS), key="tok_corr_metric", format_func=METRICS.get)
points = faith[faith["method"] == method].merge(
    own[["tokenizer", "lang", measure]].rename(columns={"tokenizer": "model"}), on=["model", "lang"])
scatter = correlation_scatter(points, measure, metric)
st.altair_chart(scatter, width="stretch", key="tok_scatter")
figure_downloads(scatter, points, "fertility-vs-faithfulness", key="tok_scatter_dl")

state.publish("tok", {})
