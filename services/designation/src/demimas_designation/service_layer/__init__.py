"""Use cases of the designation service, `handler(command, uow, principal, settings)`, and the village-stats
consumer's handlers `(events, uow)`; the unit of work is typed by the Protocols of `ports`."""
