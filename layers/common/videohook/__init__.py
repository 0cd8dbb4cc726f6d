"""videohook: push notifications for video generation jobs.

The package is what CommonLayer ships, one folder per kind of code: `domain/` (plain rules on plain data),
`services/` (the use cases the handlers call), `adapters/` (the only modules that touch boto3, aiohttp or
httpx); at the root `config` (the one reader of the environment), `runtime` (the wiring), `observability`
and `ports` (the interfaces between use cases and adapters). docs/architecture.md maps them.
"""
