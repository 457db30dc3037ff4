"""Use cases as plain async functions: apply domain rules, write in one transaction, publish."""
