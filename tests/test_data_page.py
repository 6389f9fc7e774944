"""The Data page with files whose columns need the person's choice, and with a separate test file."""

from __future__ import annotations

from tests.test_pages import app, fresh_session, plain
from ui import state

FILMS = b"person,film,grade,when\n" + b"".join(
    f"p{u},f{i},{(u + i) % 5 + 1},2020-01-{u + 1:02d}\n".encode() for u in range(6) for i in range(4))


def upload(at, name: str, data: bytes):
    at.radio(key="data_source").set_value("upload").run()
    return at.file_uploader(key="data_upload").set_value((name, data, "text/csv")).run()


def errors(at) -> list[str]:
    return [plain(e.value) for e in at.error]


def test_a_file_detection_cannot_read_offers_the_columns_to_pick_and_never_a_cli_flag(tmp_path):
    at = upload(app(tmp_path), "films.csv", FILMS)
    assert not at.exception
    assert errors(at) == ["films.csv: no user or item column among person, film, grade, when. "
                          "Pick the user, item and rating columns below and click Apply mapping."]
    assert not any("--columns" in e for e in errors(at))
    raw = next(d.value for d in at.dataframe if "when" in d.value.columns)
    assert list(raw.columns) == ["person", "film", "grade", "when"] and raw["person"].iloc[0] == "p0"
    assert [at.selectbox(key=f"data_map_{r}_{file_id(at)}").value for r in ("user", "item", "rating", "timestamp")] \
        == ["person", "film", "grade", "(none)"]


def file_id(at) -> str:
    """The upload's id, which the column selects' keys end with."""
    return next(s.key.removeprefix("data_map_user_") for s in at.selectbox if (s.key or "").startswith("data_map_user_"))


def test_the_picked_columns_read_the_file_and_it_becomes_the_active_dataset(tmp_path):
    at = upload(app(tmp_path), "films.csv", FILMS)
    at.selectbox(key=f"data_map_timestamp_{file_id(at)}").set_value("when").run()
    at.button(key="data_apply_mapping").click().run()
    assert not at.exception and not at.error
    assert any("Read 24 ratings" in s.value for s in at.success)
    at.button(key="data_use_upload").click().run()
    active = at.session_state[state.DATASET]
    assert (active.name, len(active.ratings), active.ratings.n_users) == ("films.csv", 24, 6)
    assert active.report.columns["timestamp"] == "when"


def test_a_mapping_that_still_does_not_read_names_the_value_and_keeps_the_dropdowns(tmp_path):
    at = upload(app(tmp_path), "films.csv", FILMS)
    at.selectbox(key=f"data_map_rating_{file_id(at)}").set_value("when").run()
    at.button(key="data_apply_mapping").click().run()
    assert not at.exception
    assert any("rating column 'when' holds text: '2020-01-01' on line 2" in e and "Pick other columns below" in e
               for e in errors(at))
    assert at.selectbox(key=f"data_map_rating_{file_id(at)}").value == "when"  # still there to be changed
    at.selectbox(key=f"data_map_rating_{file_id(at)}").set_value("grade").run()
    at.button(key="data_apply_mapping").click().run()
    assert not at.error and any("Read 24 ratings" in s.value for s in at.success)


def test_an_unsure_detection_reads_the_file_and_says_which_columns_to_check(tmp_path):
    at = upload(app(tmp_path), "plain.csv", b"".join(f"{u},{10 + i},{(u + i) % 5 + 1},{i % 3 + 1}\n".encode()
                                                       for u in range(1, 6) for i in range(4)))
    assert not at.exception and not at.error
    assert any("'column 3' and 'column 4' both hold small numbers" in plain(w.value) for w in at.warning)
    assert at.selectbox(key=f"data_map_rating_{file_id(at)}").value == "column 3"
    at.selectbox(key=f"data_map_rating_{file_id(at)}").set_value("column 4").run()
    at.selectbox(key=f"data_map_timestamp_{file_id(at)}").set_value("(none)").run()
    at.button(key="data_apply_mapping").click().run()
    assert not at.error and any("Read 20 ratings" in s.value for s in at.success)
    assert not at.warning  # the person chose: no longer a guess


TEST_FILE = b"person,film,grade,when\np0,f1,5,2020-03-01\np1,f2,1,2020-03-02\np9,f0,3,2020-03-03\n"


def with_films_dataset(tmp_path):
    """A session on the Data page whose active dataset is FILMS, read with the person's mapping."""
    at = upload(app(tmp_path), "films.csv", FILMS)
    at.selectbox(key=f"data_map_timestamp_{file_id(at)}").set_value("when").run()
    at.button(key="data_apply_mapping").click().run()
    at.button(key="data_use_upload").click().run()
    return at


def test_a_test_file_is_read_with_the_datasets_mapping_and_the_split_says_where_its_ratings_come_from(tmp_path):
    at = with_films_dataset(tmp_path)
    at.file_uploader(key="data_test_upload").set_value(("test.csv", TEST_FILE, "text/csv")).run()
    assert not at.exception and not at.error
    table = next(d.value for d in at.dataframe if "test" in d.value.index)
    assert table.loc["test"].tolist() == [3, 3, 3]
    assert any("The test ratings come from the file test.csv" in plain(c.value) and "1 of them with a user or item"
               in plain(c.value) for c in at.caption)
    given = at.session_state[state.GIVEN_TEST]
    assert given.data.report.columns["user"] == "person"


def test_a_test_file_that_cannot_be_read_says_why_and_is_not_used(tmp_path):
    at = with_films_dataset(tmp_path)
    at.file_uploader(key="data_test_upload").set_value(("test.csv", b"person,film,grade\nx,y,great\n", "text/csv")).run()
    assert not at.exception
    assert any("rating column 'grade' holds text: 'great' on line 2" in e and "The test file is not used" in e
               for e in errors(at))
    assert state.GIVEN_TEST not in at.session_state
    assert not any("test" in d.value.index for d in at.dataframe)


def test_a_run_with_a_test_file_reports_test_rmse_on_the_train_page(tmp_path):
    at = with_films_dataset(tmp_path)
    at.file_uploader(key="data_test_upload").set_value(("test.csv", TEST_FILE, "text/csv")).run()
    at.switch_page("views/train.py").run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    job = at.session_state[state.JOB]
    job.join(timeout=120)
    assert job.state.status == "done", job.state.message
    record = job.state.result.record
    assert record.test_rmse is not None and record.test_rmse > 0
    at.run()
    at.run()
    assert any(m.label == "Test RMSE" and m.value == f"{record.test_rmse:.4f}" for m in at.metric)


def test_a_reload_finds_the_test_file_again_from_the_url(tmp_path):
    at = with_films_dataset(tmp_path)
    at.file_uploader(key="data_test_upload").set_value(("test.csv", TEST_FILE, "text/csv")).run()
    digests = {"data": at.session_state[state.DATASET_HASH][:16],
               "test": at.session_state[state.GIVEN_TEST].content_hash[:16]}  # what the URL carries
    reloaded = fresh_session(tmp_path, **digests).switch_page("views/data.py").run()
    assert not reloaded.exception and not reloaded.error
    assert reloaded.session_state[state.GIVEN_TEST].data.name == "test.csv"
    assert any("Test ratings from test.csv (kept from before the reload)" in plain(i.value) for i in reloaded.info)
    assert next(d.value for d in reloaded.dataframe if "test" in d.value.index).loc["test", "ratings"] == 3
