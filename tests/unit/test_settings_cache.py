"""environment() parses the Lambda environment once, yet sees a variable that tests or the local runner change."""

from unittest import mock

from lambdas.shared.settings import environment


def test_environment_is_parsed_once_while_unchanged():
    with mock.patch.dict("os.environ", {"OPT_IN_TAG": "team=cdc"}):
        assert environment() is environment()


def test_a_changed_variable_is_seen():
    with mock.patch.dict("os.environ", {"OPT_IN_TAG": "team=cdc", "LOCK_TIMEOUT_MS": "5000"}):
        first = environment()
        with mock.patch.dict("os.environ", {"OPT_IN_TAG": "team=other", "LOCK_TIMEOUT_MS": "7000"}):
            changed = environment()
        assert (changed.opt_in_tag, changed.lock_timeout_ms) == ("team=other", 7000)
        assert environment() == first  # restored: the earlier values again


def test_an_emptied_variable_falls_back_to_its_default():
    with mock.patch.dict("os.environ", {"SECRET_NAME_PREFIX": "custom/"}):
        assert environment().secret_name_prefix == "custom/"
        with mock.patch.dict("os.environ", {"SECRET_NAME_PREFIX": ""}):
            assert environment().secret_name_prefix == "rds-cdc-setup/"
