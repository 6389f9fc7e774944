"""The movie map: frames over training, genre highlighting, axes named by their ends, t-SNE, selections."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from cfcore import checkpoint
from cfcore.config import TrainConfig
from cfcore.errors import CheckpointError
from cfcore.experiment import MAX_STEP_POINTS, Experiment
from cfcore.export import selection_csv
from cfcore.figures.maps import SVG_MAX_POINTS, count_colorbar, embedding_map, new_user_map, training_animation
from cfcore.mapframes import MapFrames, Snapshots, sample_items
from cfcore.projection import axis_title, most_distinct_genre, tsne_stages
from cfcore.split import SplitSettings, split
from ui import state
from ui.models import selected_items

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(small_synthetic):
    """A model trained through the one experiment path, so it carries its map frames and step losses."""
    dataset = small_synthetic.dataset
    parts = split(dataset.ratings, "random", 0.1, seed=0)
    experiment = Experiment(dataset, parts, TrainConfig(embedding_dim=8, epochs=4, early_stopping=None),
                            SplitSettings())
    list(experiment)
    experiment.finish()
    return experiment.model


def random_rotation(d: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def test_a_rotated_epoch_is_aligned_back_onto_the_final_map():
    final = np.random.default_rng(0).normal(size=(50, 6))  # (I, D)
    snaps = Snapshots(np.arange(50))
    snaps.capture(1, final @ random_rotation(6, 1))  # the same vectors, rotated: predictions would not change
    snaps.capture(2, final)
    frames = snaps.frames(final)
    assert frames.epochs.tolist() == [1, 2]
    np.testing.assert_allclose(frames.aligned[0], frames.aligned[1], atol=1e-5)  # the rotation is undone
    assert np.abs(frames.plain[0] - frames.plain[1]).max() > 0.5  # unaligned, the cloud would have spun
    np.testing.assert_allclose(frames.aligned[1], frames.plain[1], atol=1e-5)


def test_long_runs_keep_at_most_the_frame_limit_with_start_first_epoch_and_last_epoch():
    snaps = Snapshots(np.arange(5), max_frames=10)
    vectors = np.ones((5, 3))
    snaps.capture(0, vectors * 0)
    for inside in (0.3, 0.55, 0.8):
        snaps.capture(inside, vectors * inside)
    for epoch in range(1, 101):
        snaps.capture(epoch, vectors * epoch)
    assert len(snaps.epochs) <= 10
    assert snaps.epochs[:4] == [0, 0.3, 0.55, 0.8]  # the start and the first epoch are never thinned
    assert snaps.epochs[-1] == 100
    assert snaps.epochs == sorted(snaps.epochs)
    assert np.allclose(snaps.vectors[-1], 100)


def test_the_sample_is_the_most_rated_movies():
    counts = np.array([0, 5, 9, 9, 1, 7])
    assert sample_items(counts, 3).tolist() == [2, 3, 5]  # ties by index; unrated movies never sampled
    assert sample_items(counts).tolist() == [2, 3, 5, 1, 4]


def test_training_records_frames_and_step_losses_and_the_checkpoint_keeps_them(trained):
    frames = trained.map_frames
    epochs = frames.epochs.tolist()
    assert epochs[0] == 0 and epochs == sorted(epochs)
    assert [e for e in epochs if e >= 1] == list(range(1, trained.record.best_epoch + 1))
    inside = [e for e in epochs if 0 < e < 1]  # where the first epoch's quarters were passed (records every 20 steps)
    assert inside and all(0.25 <= e < 1 for e in inside)
    assert frames.aligned.shape == (len(frames.epochs), 300, 2)
    # the vectors grow from their random start (std 0.01) as training learns the rank-4 structure
    spread = frames.aligned.std(axis=(1, 2))
    assert spread[-1] > 5 * spread[0]
    steps = trained.record.step_loss
    assert 0 < len(steps.step) <= MAX_STEP_POINTS and list(steps.step) == sorted(steps.step)
    assert steps.train_loss[-1] < steps.train_loss[0]
    again = checkpoint.load(checkpoint.to_bytes(trained))
    np.testing.assert_array_equal(again.map_frames.aligned, frames.aligned)
    np.testing.assert_array_equal(again.map_frames.item_idx, frames.item_idx)


def test_a_damaged_map_in_a_checkpoint_is_refused_with_a_message(trained):
    data = checkpoint.to_dict(trained)
    data["map_frames"]["item_idx"] = data["map_frames"]["item_idx"] + 10_000  # indices beyond the catalogue
    with pytest.raises(CheckpointError, match="training map does not fit"):
        checkpoint.from_dict(data, "damaged.pt")
    arrays = MapFrames.from_arrays(trained.map_frames.to_arrays(), trained.n_items)
    assert arrays.epochs.tolist() == trained.map_frames.epochs.tolist()


def test_the_most_distinct_genre_is_the_planted_cluster():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(300, 2))
    genres = pd.Series(rng.choice(["Drama", "Comedy|Drama", "Action"], 300))
    horror = np.arange(40)
    coords[horror] += [6.0, 0.0]
    genres[horror] = "Horror|Thriller"
    assert most_distinct_genre(coords, genres) in ("Horror", "Thriller")
    assert most_distinct_genre(coords[:30], genres[:30], min_movies=20) is None  # too few of any genre


def test_axes_are_named_by_the_titles_at_their_two_ends():
    frame = pd.DataFrame({"title": ["Low A", "Low B", "Middle", "High B", "High A with a very long title indeed"],
                          "pc1": [-2.0, -1.0, 0.0, 1.0, 2.0]})
    assert axis_title(frame, "pc1", "PC1 (30%)") == "PC1 (30%): Low A, Low B ↔ High A with a very lo…, High B"


def test_popularity_colour_bar_reads_as_counts():
    bar = count_colorbar(pd.Series([3, 40, 900]), "ratings")
    assert bar["ticktext"] == ["5", "10", "20", "50", "100", "200", "500"]
    np.testing.assert_allclose(bar["tickvals"], np.log10([5, 10, 20, 50, 100, 200, 500]))


def test_genre_mode_draws_one_genre_in_colour_and_the_rest_grey():
    frame = pd.DataFrame({"pc1": [0.0, 1, 2, 3], "pc2": [0.0, 1, 0, 1], "title": ["a", "b", "c", "<b>d</b>"],
                          "year": [2000.0, np.nan, 1990, 1980], "genres": ["Horror", "Drama", "Horror|Drama", "Comedy"],
                          "n_ratings": [5, 6, 7, 8], "bias": [0.1, 0.2, 0.3, 0.4]}, index=[10, 11, 12, 13])
    fig = embedding_map(frame, "genre", 2, [0.3, 0.2], genre="Horror", axis_titles=["x axis", "y axis"])
    names = [t.name for t in fig.data]
    assert names == ["other movies", "Horror (2)"]
    assert list(fig.data[1].x) == [0.0, 2.0] and fig.data[1].marker.color != fig.data[0].marker.color
    assert [row[-1] for row in fig.data[1].customdata] == [10, 12]  # item_idx rides in the hover data
    assert "&lt;b&gt;d&lt;/b&gt;" in fig.data[0].customdata[-1][0]  # titles are shown literally
    assert fig.layout.xaxis.title.text == "x axis"



def movies_frame() -> pd.DataFrame:
    """Four movies on a map, one with markup and one with an ampersand in its title."""
    return pd.DataFrame({"pc1": [0.0, 1, 2, 3], "pc2": [0.0, 1, 0, 1], "pc3": [0.5, 0.25, 0.0, -1.0],
                         "title": ["Wallace & Gromit", "b", "c", "<b>d</b>"], "item_id": [101, 102, 103, 104],
                         "year": [2000.0, np.nan, 1990, 1980], "genres": ["Horror", "Drama", "Horror|Drama", "Comedy"],
                         "n_ratings": [5, 6, 7, 8], "bias": [0.1, 0.2, 0.3, 0.4]}, index=[10, 11, 12, 13])


def highlighted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[[13, 10]].assign(label=["▶ <b>d</b>", "1"], label_inside=[False, True])


@pytest.mark.parametrize("dims, kind", [(2, "scatter"), (3, "scatter3d")])
def test_highlighted_movies_are_drawn_last_as_the_same_kind_of_trace_as_the_cloud(dims, kind):
    # WebGL traces draw above SVG ones whatever their order: an SVG highlight sat under a WebGL cloud; and among
    # themselves not reliably in order, so a 2D map of this size is SVG throughout
    frame = movies_frame()
    fig = embedding_map(frame, "genre", dims, [0.3, 0.2, 0.1], highlight=highlighted(frame), genre="Horror")
    assert [t.type for t in fig.data] == [kind] * 4
    assert [t.name for t in fig.data][2:] == ["nearest neighbours (list number)", "chosen movie"]
    assert list(fig.data[-1].x) == [3.0] and list(fig.data[-2].x) == [0.0]
    # labels are annotations, which draw above every trace; the chosen movie's in a white box, literally
    notes = fig.layout.scene.annotations if dims == 3 else fig.layout.annotations
    assert [n.text for n in notes] == ["1", "▶ &lt;b&gt;d&lt;/b&gt;"]
    assert notes[1].bgcolor and not notes[0].bgcolor and notes[1].yshift > 0
    assert [n.x for n in notes] == [0.0, 3.0]
    if dims == 3:
        assert [n.z for n in notes] == [0.5, -1.0]


def test_a_map_too_big_for_svg_is_webgl_throughout():
    frame = pd.concat([movies_frame()] * (SVG_MAX_POINTS // 4 + 1), ignore_index=True)
    fig = embedding_map(frame, "n_ratings", 2, [0.3, 0.2], highlight=highlighted(movies_frame()).reset_index())
    assert {t.type for t in fig.data} == {"scattergl"} and fig.data[-1].name == "chosen movie"


def test_3d_axis_titles_are_literal_and_short_lines():
    # WebGL draws 3D axis titles itself: it decodes no entities (plot's "&amp;" showed as "&amp;") but reads
    # <b> as bold; one long line per axis made PC2 and PC3 run into each other
    fig = embedding_map(movies_frame(), "n_ratings", 3, [0.3, 0.2, 0.1],
                        axis_titles=["PC1 (30%): Wallace & Gromit ↔ <b>d</b>", "PC2 (20%): b ↔ c", "PC3 (10%): c ↔ b"])
    assert fig.layout.scene.xaxis.title.text == "PC1 (30%)<br>Wallace & Gromit ↔<br><\u2060b>d<\u2060/b>"
    assert fig.layout.scene.yaxis.title.text == "PC2 (20%)<br>b ↔<br>c"
    assert fig.layout.scene.camera.eye.x > 1.25  # further out than the default, or the PC2 title ran off the chart
    flat = embedding_map(movies_frame(), "n_ratings", 2, [0.3, 0.2], axis_titles=["A & B", "<b>x</b>"])
    assert flat.layout.xaxis.title.text == "A &amp; B" and flat.layout.yaxis.title.text == "&lt;b&gt;x&lt;/b&gt;"


def test_the_new_user_map_draws_picks_and_you_above_the_cloud():
    background = pd.DataFrame({"pc1": np.linspace(-1, 1, 50), "pc2": np.linspace(1, -1, 50)})
    rated = pd.DataFrame({"pc1": [0.1], "pc2": [0.2], "title": ["A & B"], "rating": [5.0]})
    recommended = pd.DataFrame({"pc1": [0.3, 0.4], "pc2": [0.5, 0.6], "title": ["c", "<i>d</i>"]})
    fig = new_user_map(background, rated, recommended, [0.0, 0.0], [0.3, 0.2], (1.0, 5.0))
    assert [t.type for t in fig.data] == ["scatter"] * 4  # SVG throughout, so trace order is drawing order
    assert [t.name for t in fig.data] == ["movies", "rated by you", "recommended (list number)", "you"]
    assert list(fig.data[2].text) == ["2", "1"] and list(fig.data[2].x) == [0.4, 0.3]  # number 1 drawn on top
    assert fig.data[2].customdata[0][1] == "&lt;i&gt;d&lt;/i&gt;"
    assert [(n.text, n.x, n.y) for n in fig.layout.annotations] == [("you", 0.0, 0.0)]
    assert fig.layout.annotations[0].bgcolor


def test_the_genre_in_colour_is_drawn_last_in_the_map_over_training():
    movies = movies_frame()
    coords = np.stack([movies[["pc1", "pc2"]].to_numpy()] * 2)  # (E, n, 2)
    fig = training_animation(coords, [0, 1], movies, np.array([True, False, True, False]), "Horror")
    assert [t.type for t in fig.data] == ["scatter", "scatter"] and fig.data[-1].name == "Horror (2)"
    assert all(len(f.data) == 2 and list(f.data[-1].x) == [0.0, 2.0] for f in fig.frames)


def test_the_selection_csv_has_ids_titles_whole_years_and_coordinates():
    chosen = movies_frame().loc[[13, 10, 11]]
    text = selection_csv(chosen, ["pc1", "pc2"]).decode()
    assert text.splitlines() == ["item_id,title,year,genres,n_ratings,pc1,pc2",
                                 "104,<b>d</b>,1980,Comedy,8,3.0,1.0",
                                 "101,Wallace & Gromit,2000,Horror,5,0.0,0.0",
                                 "102,b,,Drama,6,1.0,1.0"]
    tsne = selection_csv(chosen.rename(columns={"pc1": "tsne1", "pc2": "tsne2"}), ["tsne1", "tsne2"]).decode()
    assert tsne.splitlines()[0].endswith("tsne1,tsne2")
    with pytest.raises(ValueError, match="no coordinate column 'pc3'"):
        selection_csv(chosen.drop(columns="pc3"), ["pc1", "pc3"])

def test_a_box_selection_lists_the_movies_inside_it():
    frame = pd.DataFrame({"title": ["a", "b", "c"]}, index=[10, 11, 12])
    event = {"selection": {"points": [{"customdata": ["b", "?", "", 6, 0.2, 11]},
                                      {"customdata": ["c", "?", "", 7, 0.3, "12"]},
                                      {"customdata": ["b", "?", "", 6, 0.2, 11]},  # the highlighted copy
                                      {"x": 1.0}]}}
    assert selected_items(event, frame)["title"].tolist() == ["b", "c"]
    assert selected_items({"selection": {"points": []}}, frame) is None


def test_tsne_separates_planted_clusters_in_stages():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)) * 4
    data = np.vstack([c + rng.normal(size=(60, 16)) for c in centres])
    stages = list(tsne_stages(data, np.arange(len(data))))
    assert [done for done, _ in stages] == [0.25, 0.5, 0.75, 1.0]
    coords = stages[-1][1]
    assert coords.shape == (180, 2)
    assert silhouette_score(coords, np.repeat([0, 1, 2], 60)) > 0.6


def test_the_animation_has_one_frame_per_epoch_and_a_fixed_frame(trained):
    frames = trained.map_frames
    movies = trained.catalog.rows(frames.item_idx)
    member = movies["genres"].str.contains("Horror").to_numpy()
    fig = training_animation(frames.aligned, frames.epochs.tolist(), movies, member, "Horror", zoom=True)
    assert [f.name for f in fig.frames] == ["start"] + [f"epoch {e:g}" for e in frames.epochs[1:]]
    assert len(fig.layout.sliders[0].steps) == len(frames.epochs)
    assert fig.layout.xaxis.range is not None  # one fixed view: the cloud grows and moves inside it
    # zoomed, every epoch has the final epoch's spread about its own centre, and keeps that centre
    def points(frame):
        return np.concatenate([np.c_[t.x, t.y] for t in frame.data])

    spreads = [np.sqrt(((points(f) - points(f).mean(0)) ** 2).mean()) for f in fig.frames]
    np.testing.assert_allclose(spreads, spreads[-1], rtol=1e-3)
    plain = training_animation(frames.plain, frames.epochs.tolist(), movies, member, "Horror", zoom=True)
    np.testing.assert_allclose(points(plain.frames[0]).mean(0), frames.plain[0].mean(0), atol=1e-4)
    assert len(fig.to_json()) < 5_000_000


def page(tmp_path: Path, rec) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state[state.RUNS_DIR] = str(tmp_path)
    at.session_state[state.ACTIVE_MODEL] = state.ActiveModel(rec, None, "test model", None)
    at.run()
    return at.switch_page("views/embeddings.py").run()


def test_embeddings_page_plays_the_map_over_training(tmp_path, trained):
    at = page(tmp_path, trained)
    assert not at.exception
    at.session_state["emb_view"] = "Map over training"
    at.run()
    assert not at.exception, at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert '"frames"' in spec and "epoch 1" in spec and "Play" in spec


def test_embeddings_page_without_frames_says_why(tmp_path, trained):
    rec = checkpoint.load(checkpoint.to_bytes(trained))
    rec.map_frames = None  # as a run saved before the map was recorded
    at = page(tmp_path, rec)
    at.session_state["emb_view"] = "Map over training"
    at.run()
    assert not at.exception
    assert any("no record of its map during training" in i.value for i in at.info)


def test_embeddings_page_genre_neighbours_and_tsne(tmp_path, trained):
    at = page(tmp_path, trained)
    at.number_input(key="emb_min").set_value(1).run()
    spec = at.get("plotly_chart")[0].proto.spec
    genre = at.selectbox(key="emb_genre").value
    assert f"{genre} (" in spec and "other movies" in spec
    assert "↔" in json.loads(spec)["layout"]["xaxis"]["title"]["text"]  # axes named by the titles at their ends
    title = trained.catalog.frame["title"].iloc[0]
    at.text_input(key="emb_search").set_value(title).run()
    assert not at.exception
    neighbours = at.dataframe[0].value
    assert list(neighbours.columns[:3]) == ["#", "title", "year"] and len(neighbours) == 10
    assert neighbours["similarity"].between(-1, 1).all()
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert traces[-1]["name"] == "chosen movie" and traces[-2]["name"].startswith("nearest neighbours")
    notes = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]
    assert [n["text"] for n in notes][:10] == [str(n) for n in range(10, 0, -1)]  # as in the table; 1 on top
    at.radio(key="emb_method").set_value("t-SNE").run()
    assert not at.exception
    job = at.session_state[state.TSNE_JOB]
    deadline = time.time() + 120
    while job.coords is None and not job.error and time.time() < deadline:
        time.sleep(0.5)
    assert job.error == "" and job.coords.shape == (300, 2)
    at.run()
    assert not at.exception
    assert "t-SNE 1" in at.get("plotly_chart")[0].proto.spec


def test_a_stopped_tsne_resumes_when_the_page_comes_back_to_it():
    from ui.jobs import TsneJob

    data = np.random.default_rng(0).normal(size=(60, 4))
    job = TsneJob(data, np.arange(60)).start()
    job.stop()
    job.join(60)
    assert not job.running and job.coords is None  # stopped between stages, unfinished
    job.resume().join(120)
    assert job.coords.shape == (60, 2) and job.error == ""
    assert job.resume() is job and not job.running  # a finished job is not started again


def test_a_catalogue_without_genres_or_years_maps_and_plays_without_them(tmp_path, trained):
    rec = checkpoint.load(checkpoint.to_bytes(trained))
    rec.catalog.frame["genres"], rec.catalog.frame["year"] = "", np.nan  # as a plain ratings upload without a movies file
    at = page(tmp_path, rec)
    assert not at.exception, at.exception
    assert at.selectbox(key="emb_color").options == ["popularity", "bias"]
    at.session_state["emb_view"] = "Map over training"
    at.run()
    assert not at.exception, at.exception
    assert any("has no genres" in c.value for c in at.caption)
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert [t["name"] for t in traces] == ["movies"]


def test_embeddings_page_offers_the_selected_movies_as_csv_and_says_how_to_select(tmp_path, trained):
    at = page(tmp_path, trained)
    at.number_input(key="emb_min").set_value(1).run()
    assert any("Drag a box or a lasso" in c.value for c in at.caption)  # nothing selected yet: how to select
    assert not [b for b in at.get("download_button") if "selected" in b.proto.label]
    # what Streamlit's selection event holds after a box over two movies (item_idx last in the customdata)
    points = [{"customdata": ["x", "?", "", 1, 0.0, i]} for i in (3, 5)]
    at.session_state["emb_map"] = {"selection": {"points": points, "point_indices": [], "box": [], "lasso": []}}
    at.run()
    assert not at.exception, at.exception
    button = next(b for b in at.get("download_button") if "selected" in b.proto.label)
    assert button.proto.label == "Download the 2 selected movies (CSV)"
