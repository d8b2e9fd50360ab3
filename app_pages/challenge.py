"""You vs the model: name the genre of test covers, then see your accuracy beside a model's."""
import secrets

import streamlit as st

import ui
import ui_first_launch
import ui_models
from cover_model import public_mode
from cover_model.data.dataset_needs import challenge_problem
from cover_model.data.images import thumbnail
from cover_model.markdown_text import escape
from cover_model.networks.runs import Run, RunError
from cover_model.networks.tables import run_label
from cover_model.service import challenge


def percent_table(table, columns) -> None:
    """Show ``columns`` as whole percents: Streamlit's "percent" format gives two decimals
    (33.33%), a precision that a round of a few dozen covers does not have."""
    shown = table.copy()
    shown[columns] = (shown[columns].astype(float) * 100).round()
    st.dataframe(shown, column_config={c: st.column_config.NumberColumn(c, format="%d%%")
                                       for c in columns})


st.title("You vs the model")
st.caption("The paper says people did poorly at naming a genre from a cover too, but never "
           "measured them. Name the genre of covers from the test split (the model never "
           "trained on them); your answers are then scored beside the model's on the same covers.")
dataset = ui.current_dataset()
if ui.features_only_notice("a round"):
    st.stop()
problem = challenge_problem(dataset)          # rounds come from the test split
if problem:
    st.warning(f"Cannot play a round on this dataset: {escape(problem)}.", icon=":material/block:")
    st.stop()


fitting = [str(r) for r in challenge.models_that_fit(ui_models.model_choices(dataset.fingerprint),
                                                     dataset.class_names)]
if not fitting:
    st.info("No model knows every genre of this dataset. Train one on the Train page" +
            (", or the paper's small CNN in the sidebar (More models)." if ui.is_synthetic() else "."))
    ui_first_launch.demo_model_sidebar(ui.visitor_id())
    st.stop()
run_dir = st.sidebar.selectbox("Model", fitting, key="challenge_run",
                               format_func=lambda r: f"{run_label(Run(r).config())} · {Run(r).name}",
                               help="The models that know every genre of the sidebar's dataset.")
size = st.sidebar.radio("Covers per round", challenge.round_sizes()[:2], key="challenge_size",
                        horizontal=True)
game_key = (dataset.fingerprint, run_dir)


def start_round() -> None:
    seed = secrets.randbelow(2**31)
    cards = challenge.draw_round(dataset, size, seed=seed)
    st.session_state.challenge = {"key": game_key, "seed": seed, "answers": [],
                                  "paths": list(cards["path"]), "truth": list(cards["genre"])}


def answer(genre: str) -> None:
    st.session_state.challenge["answers"].append(genre)


@st.cache_data(show_spinner="The model is answering the same covers...", max_entries=16)
def model_answers(run_dir: str, paths: tuple) -> list[str]:
    """Once per round (keyed by its covers), not once per click."""
    return challenge.model_answers(ui_models.load_predictor(run_dir), paths)


game = st.session_state.get("challenge")
if game is None or game["key"] != game_key:
    st.button("Start a round", key="challenge_start", type="primary", on_click=start_round)
    game = None
elif len(game["answers"]) < len(game["paths"]):
    done, total = len(game["answers"]), len(game["paths"])
    st.progress(done / total, text=f"{done + 1} of {total}")
    ui.synthetic_notice()
    rgb, why = thumbnail(game["paths"][done], 420)
    st.image(rgb, width=420, caption=public_mode.visitor_message(why) if why else "Which genre?")
    columns = st.columns(5)
    for i, genre in enumerate(dataset.class_names):
        columns[i % 5].button(escape(genre), key=f"challenge_answer_{genre}", width="stretch",
                              on_click=answer, args=(genre,))      # a label renders Markdown
else:
    try:
        model = model_answers(run_dir, tuple(game["paths"]))
    except RunError as exc:
        st.error(f"Cannot load this model: {public_mode.visitor_message(str(exc))}. Pick another "
                 "model in the sidebar.", icon=":material/error:")
        st.stop()
    score = challenge.score_round(game["truth"], game["answers"], model,
                                  class_names=dataset.class_names, paths=game["paths"])
    if not game.get("kept"):
        game["kept"] = True                 # one line per finished round, whatever reruns follow
        try:
            challenge.record_attempt(challenge.attempts_file(dataset.fingerprint, Run(run_dir).name),
                                     score.record(seed=game["seed"]))
        except (challenge.ChallengeError, OSError) as exc:
            st.warning(public_mode.visitor_message(str(exc)), icon=":material/block:")
    you, it = st.columns(2)
    you.metric("You", f"{score.table.loc['overall', 'player']:.0%}")
    it.metric("The model", f"{score.table.loc['overall', 'model']:.0%}")
    percent_table(score.table, ["player", "model"])
    st.plotly_chart(challenge.comparison_figure(score), width="stretch")
    st.subheader(f"Where you and the model disagree ({len(score.disagreements)})")
    if not score.disagreements.empty:
        ui.synthetic_notice()
        ui.cover_gallery(score.disagreements["path"], width=120, captions=[
            f"{g}: you {p}, model {m or 'no answer'}" for g, p, m in
            score.disagreements[["genre", "player", "model"]].itertuples(index=False)])
    st.button("Play another round", key="challenge_again", type="primary", on_click=start_round)

st.subheader("Every round against this model")
table = challenge.attempts_table(challenge.attempts_file(dataset.fingerprint, Run(run_dir).name))
if table.empty:
    st.caption("No round finished yet on this dataset against this model.")
else:
    percent_table(table, list(table.columns[2:]))
