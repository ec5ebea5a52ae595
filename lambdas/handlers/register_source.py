"""RegisterSource: the prepared database as a PostgreSQL source in Streamkap (created, or updated when
it is the workflow's own), waited for until Active. Outside the VPC: it talks to Streamkap's API on the
internet, which the data-plane subnets may not reach (VPC endpoints, no NAT); ConfirmSourceStreaming,
in the VPC, then proves the source streams the slot."""

from lambdas.dal.secrets import Secrets
from lambdas.dal.streamkap import StreamkapApi
from lambdas.logic.register import api_credentials, check_api_url, register_source
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import RegisteredSource, RegisterSourceInput
from lambdas.shared.observability import logger
from lambdas.shared.settings import environment
from lambdas.shared.step import step


@step(RegisterSourceInput)
def handler(state: RegisterSourceInput) -> RegisteredSource:
    setup = state.input
    if setup.streamkap_api_secret_arn is None:  # the ASL's IsSourceRegistered sends no such run here
        raise InvalidInput("RegisterSource needs streamkap_api_secret_arn")
    check_api_url(setup, environment().streamkap_api_url)  # before any secret is read
    secrets = Secrets()
    credentials = api_credentials(secrets.json_value(setup.streamkap_api_secret_arn), setup.streamkap_api_secret_arn)
    password = secrets.credentials(state.configure.secret_arn).password
    api = StreamkapApi(setup.streamkap_api_url, timeout_seconds=environment().streamkap_api_timeout_seconds)
    result = register_source(
        api,
        secrets,
        setup=setup,
        target=state.target,
        configured=state.configure,
        api_credentials=credentials,
        password=password,
    )
    logger.info("source registered", extra={"source": result.id, "status": result.connector_status})
    return result
