"""The domain: plain rules on plain data (a provider's answer read, the next poll decided, an event built, an
address judged, a webhook signed). No boto3, no HTTP client, no configuration reading: testable without AWS."""
