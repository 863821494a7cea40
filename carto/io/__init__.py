"""Data in and out: one import pipeline (read → check → write) and one per-row report.

Every importer (the demo loader, the farmland CSV, the spreadsheet and standards importers)
is a `pipeline.Importer`: readers (`carto.io.readers`) turn a file into numbered rows,
`check` turns one row into the values to write or a rejection with its reason, `stage` writes a
checked batch, `check_all` checks what needs the whole file (duplicates), `write` merges. `pipeline.run`
drives them batch by batch, so memory is bounded by a batch, not by the file, and fills one
`Report` with a line per row (created / updated / unchanged / rejected and why).
"""
