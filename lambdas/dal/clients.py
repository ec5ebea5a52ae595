"""boto3 clients, made once per Lambda container (first use), not per call."""

from functools import cache

import boto3


@cache
def client(service: str):
    return boto3.client(service)
