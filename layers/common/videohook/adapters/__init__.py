"""Adapters: the only code that talks to AWS (boto3) or HTTP (aiohttp, httpx). Each implements a port of
`videohook.ports` (a store, a publisher, a token source, a provider client, a webhook sender)."""
