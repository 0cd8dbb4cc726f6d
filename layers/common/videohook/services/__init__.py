"""Use cases: one module per thing a function does (poll the due jobs, track a job, deliver a webhook, archive
a video, fan out to workers), built from ports and the domain; `videohook.runtime` wires them to adapters."""
