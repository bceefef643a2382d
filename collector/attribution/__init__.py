"""Attribution: which marketing channels earn the conversions (POST /v1/reports/attribution).

Path assembly runs in ClickHouse (paths.py); the models run in numpy on the aggregated
paths (models.py, markov.py, shapley.py).  See README.md in this folder."""
