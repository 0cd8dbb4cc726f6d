"""videohook: push notifications for OpenAI-style video generation jobs.

The package is what CommonLayer ships. `models`, `normalize`, `schedule`, `events` and `validation` are the
plain-Python domain; `job_store`, `publisher`, `provider_client` and `secrets` are the adapters (the only
modules that touch boto3 or httpx); `poller` and `tracking` are the use cases the handlers call.
"""
