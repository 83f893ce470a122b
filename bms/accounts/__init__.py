"""Accounts: roles, API tokens and the account commands."""

# The variable the account commands read a password from (kept out of argv, `ps` and shell
# history); here, importable without Django, because `make run` (bms.run) sets it too.
PASSWORD_ENV = "BMS_PASSWORD"  # noqa: S105 - the variable name, not a password
