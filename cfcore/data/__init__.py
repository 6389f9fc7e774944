"""Ratings and item metadata in: from a path, an upload's bytes or a built-in source to a validated Dataset.

One module per concept, imported by name (this file re-exports nothing, so there are no hidden cycles):

- ``load.py``       the entry point, ``load_dataset``: source -> Dataset
- ``dataset.py``    the containers: Dataset, LoadReport, the built-in sources' names
- ``builtin.py``    the built-in sources: the MovieLens sample, synthetic data
- ``raw.py``        bytes: reading, gzip, refusing what is clearly not text or Parquet
- ``formats.py``    the readers, ratings and metadata alike, registered in one table (``READERS``)
- ``columns.py``    which column is the user, the item, the rating (aliases, positions, the caller's choice)
- ``preview.py``    a file's first rows as read, and whether its columns were found, are a guess, or are missing
- ``validate.py``   a frame of user, item, rating[, timestamp] -> Ratings, and what was dropped and why
- ``items.py``      item metadata: titles, years and genres joined onto a Dataset
- ``archive.py``    a ZIP archive's ratings and metadata members, read safely
"""
