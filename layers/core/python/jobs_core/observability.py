"""Logger, tracer and metrics, created once per container and shared by every module."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Reads publish no business metric; Powertools would warn about that on every GET.
warnings.filterwarnings('ignore', message='No application metrics to publish', category=UserWarning)
