"""The emulated GT365 API: ``routes`` (the ProvisionGroup call and ``/_control/gt365/``) and
``dialects`` (its answer shapes). See docs/gt365-contract.md §6."""
