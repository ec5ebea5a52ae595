"""One Logger/Tracer/Metrics for every handler; the service name comes from the environment."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore: its calls are what the traces show. patch_all() would import every library the
# X-Ray SDK can patch (requests, sqlite3, http.client, ...) at each cold start (bench/cold_start.py).
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
