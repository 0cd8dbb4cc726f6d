"""The built-in dialects, in the same JSON form a custom dialect takes in PROVIDERS (spec.parse_dialect).
Each is read from the API's own documentation and official SDK types; `docs` says where, and the examples
in devtools/dialect_fixtures/<name>.json quote them (the unit tests read every one through its dialect)."""

from __future__ import annotations

from typing import Any

OPENAI: dict[str, Any] = {
    "docs": "OpenAI video object (openai-python types/video.py); new-api gateways (dto/openai_video.go)",
    "request": {"path": "/v1/videos/{id}", "query": {"duration": "{duration}"}, "auth": "bearer"},
    "status": {
        "path": "status",
        "map": {
            "queued": "queued",
            "pending": "queued",
            "in_progress": "in_progress",
            "processing": "in_progress",
            "running": "in_progress",
            "completed": "completed",
            "succeeded": "completed",
            "failed": "failed",
            "error": "failed",
            "cancelled": "failed",
            "canceled": "failed",
            "expired": "failed",
        },
    },
    "progress": {"path": "progress"},
    # new-api puts the URL in metadata.url (some of its adaptors in metadata.video_url or a top-level url)
    "video_url": ["video_url", "result.video_url", "metadata.url", "metadata.video_url", "result_url", "url"],
    "content_url": "/v1/videos/{id}/content",
    "error": {"code": ["error.code"], "message": ["error.message", "error"], "type": ["error.type"], "ok": [0, "0"]},
    "fields": {
        "model": "model",
        "prompt": "prompt",
        "size": "size",
        "seconds": "seconds",
        "remixed_from_video_id": "remixed_from_video_id",
    },
    # new-api stamps completed_at with the last update while the job still runs: kept only once it is over
    "times": {
        "created_at": "created_at",
        "completed_at": {"path": "completed_at", "only_when_terminal": True},
        "expires_at": "expires_at",
    },
    "pushes": "OpenAI's own webhooks (video.completed); gateways: none",
}

UUID = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"

GEMINI: dict[str, Any] = {
    "docs": "ai.google.dev/gemini-api/docs/video (REST polling); google-genai types GenerateVideosOperation",
    "default_base_url": "https://generativelanguage.googleapis.com",
    "request": {"path": "/v1beta/{id:path}", "auth": "x-goog-api-key"},
    "id_pattern": "^models/[A-Za-z0-9.-]+/operations/[A-Za-z0-9_-]+$",
    "id_hint": "the operation name, models/<model>/operations/<id>",
    # An operation leaves out `done` until it is done; done with `error` failed; done with only the safety
    # filter's reasons produced no video.
    "status": {
        "path": "done",
        "map": {"false": "in_progress", "true": "completed"},
        "missing": "in_progress",
        "failed_when_present": {
            "error": "error",
            "response.generateVideoResponse.raiMediaFilteredReasons": "rai_media_filtered",
        },
    },
    "video_url": ["response.generateVideoResponse.generatedSamples[0].video.uri"],
    "video_url_needs_key": True,
    "error": {
        "code": ["error.code"],
        "message": ["error.message", "response.generateVideoResponse.raiMediaFilteredReasons[0]"],
    },
    "url_lifetime_s": 172800,  # "Generated videos are stored on the server for 2 days"
    "pushes": "no (per-operation polling only)",
    # Webhooks (video.generated, Standard Webhooks): {type, data: {id, output_file_uri}}; only completions
    "inbound": {
        "object": "data",
        "key": ["data.id"],
        "key_from_id": "operations/(?P<key>[^/]+)$",
        "reads": {
            "status": {"path": "status", "map": {"completed": "completed"}, "missing": "completed"},
            "video_url": ["output_file_uri", "video_uri"],
        },
    },
}

RUNWAY: dict[str, Any] = {
    "docs": "docs.dev.runwayml.com/api (Get task detail); runwayml/sdk-python TaskRetrieveResponse",
    "default_base_url": "https://api.dev.runwayml.com",
    "request": {"path": "/v1/tasks/{id}", "auth": "bearer", "headers": {"X-Runway-Version": "2024-11-06"}},
    "id_pattern": UUID,
    "id_hint": "the task id (a UUID)",
    "status": {
        "path": "status",
        "map": {
            "PENDING": "queued",
            "THROTTLED": "throttled",
            "RUNNING": "in_progress",
            "SUCCEEDED": "completed",
            "FAILED": "failed",
            "CANCELLED": "failed",
        },
    },
    "progress": {"path": "progress", "scale": 100},  # 0..1 on RUNNING tasks
    "video_url": ["output[0]"],
    "error": {"code": ["failureCode"], "message": ["failure"]},
    "times": {"created_at": {"path": "createdAt", "format": "iso8601"}},
    "url_lifetime_s": 86400,  # "will expire within 24-48 hours"
    "pushes": "no",
}

LUMA: dict[str, Any] = {
    "docs": "docs.lumalabs.ai (Dream Machine API, Get generation); lumalabs/lumaai-python Generation",
    "default_base_url": "https://api.lumalabs.ai",
    "request": {"path": "/dream-machine/v1/generations/{id}", "auth": "bearer"},
    "id_pattern": UUID,
    "id_hint": "the generation id (a UUID)",
    "status": {
        "path": "state",
        "map": {"queued": "queued", "dreaming": "in_progress", "completed": "completed", "failed": "failed"},
    },
    "video_url": ["assets.video"],
    "error": {"message": ["failure_reason"]},
    "fields": {"model": ["model", "request.model"], "size": ["request.resolution"]},
    "times": {"created_at": {"path": "created_at", "format": "iso8601"}},
    "pushes": "callback_url (unsigned; 3 retries)",
    "inbound": {"key": ["id"]},  # the Generation object
}

KLING_STATUSES = {"submitted": "queued", "processing": "in_progress", "succeed": "completed", "failed": "failed"}

KLING: dict[str, Any] = {
    "docs": "app.klingai.com/global/dev/document-api (General Information; Text to Video, Query Task)",
    "default_base_url": "https://api-singapore.klingai.com",
    "request": {"path": "/v1/videos/{id:path}", "auth": "kling-jwt"},
    "id_pattern": "^[a-z0-9-]+/[A-Za-z0-9_-]+$",
    "id_hint": "<task type>/<task_id>, e.g. text2video/<task_id> or image2video/<task_id>",
    "status": {
        "path": "data.task_status",
        "map": KLING_STATUSES,
    },
    "api_error": {
        "path": "code",
        "ok": [0],
        "rate_limited": [1302, 1303],
        "unauthorized": [1000, 1001, 1002, 1003, 1004],
        "message": "message",
    },
    "video_url": ["data.task_result.videos[0].url"],
    "error": {"message": ["data.task_status_msg"]},
    "fields": {"seconds": ["data.task_result.videos[0].duration"]},
    "times": {"created_at": {"path": "data.created_at", "format": "unix_ms"}},
    "url_lifetime_s": 2592000,  # "cleared after 30 days"
    "pushes": "callback_url on every status change (unsigned)",
    # the task object, without the code/message envelope
    "inbound": {
        "key": ["task_id", "data.task_id"],
        "key_from_id": "/(?P<key>[^/]+)$",
        "reads": {
            "status": {
                "path": "task_status",
                "map": KLING_STATUSES,
            },
            "video_url": ["task_result.videos[0].url"],
            "error": {"message": ["task_status_msg"]},
            "fields": {"seconds": ["task_result.videos[0].duration"]},
            "times": {"created_at": {"path": "created_at", "format": "unix_ms"}},
        },
    },
}

MINIMAX: dict[str, Any] = {
    "docs": "platform.minimax.io/docs/api-reference/video-generation-query; files/retrieve",
    "default_base_url": "https://api.minimax.io",
    "request": {"path": "/v1/query/video_generation", "query": {"task_id": "{id}"}, "auth": "bearer"},
    "id_pattern": "^[0-9]+$",
    "id_hint": "the task_id (digits)",
    "status": {
        "path": "status",
        "map": {
            "Preparing": "queued",
            "Queueing": "queued",
            "Processing": "in_progress",
            "Success": "completed",
            "Fail": "failed",
            "failed": "failed",
            "success": "completed",
        },
    },
    # base_resp.status_code: 0 is fine; 1002 and 1039 are rate limits; 1004 a rejected key
    "api_error": {
        "path": "base_resp.status_code",
        "ok": [0],
        "rate_limited": [1002, 1039],
        "unauthorized": [1004],
        "message": "base_resp.status_msg",
    },
    "error": {"code": ["base_resp.status_code"], "message": ["base_resp.status_msg"]},
    # The query answers a file_id; the download URL is the file's (GET /v1/files/retrieve).
    "follow_up": {
        "when": "completed",
        "request": {"path": "/v1/files/retrieve", "query": {"file_id": "{file_id}"}},
        "vars": {"file_id": "file_id"},
        "video_url": ["file.download_url"],
        "api_error": {
            "path": "base_resp.status_code",
            "ok": [0],
            "rate_limited": [1002, 1039],
            "unauthorized": [1004],
            "message": "base_resp.status_msg",
        },
    },
    "url_lifetime_s": 32400,  # 9 h (documented for the template query's URL; the file's is not stated)
    "pushes": "callback_url (a challenge echo first; unsigned)",
    # a {"challenge": ...} handshake first; then the task's status (its video still needs the file lookup)
    "inbound": {"key": ["task_id"], "challenge": "challenge"},
}

DASHSCOPE: dict[str, Any] = {
    "docs": "alibabacloud.com/help/en/model-studio/manage-asynchronous-tasks (GET /api/v1/tasks/{task_id})",
    "default_base_url": "https://dashscope-intl.aliyuncs.com",
    "request": {"path": "/api/v1/tasks/{id}", "auth": "bearer"},
    "id_pattern": UUID,
    "id_hint": "the output.task_id (a UUID) of the same region",
    "status": {
        "path": "output.task_status",
        "map": {
            "PENDING": "queued",
            "RUNNING": "in_progress",
            "SUCCEEDED": "completed",
            "FAILED": "failed",
            "CANCELED": "failed",
            "UNKNOWN": "failed",
        },
    },
    "video_url": ["output.video_url"],
    "error": {"code": ["output.code", "code"], "message": ["output.message", "message"]},
    "fields": {"seconds": ["usage.video_duration", "usage.duration"]},
    # submit_time / end_time carry no time zone: left out rather than guessed
    "url_lifetime_s": 86400,  # "Video URLs expire after 24 hours"
    "pushes": "no",
}

ARK: dict[str, Any] = {
    "docs": "Volcengine Ark / BytePlus ModelArk: query video generation task; volcengine-python-sdk ark types",
    "default_base_url": "https://ark.cn-beijing.volces.com",
    "request": {"path": "/api/v3/contents/generations/tasks/{id}", "auth": "bearer"},
    "id_pattern": "^cgt-[A-Za-z0-9-]+$",
    "id_hint": "the task id, cgt-...",
    "status": {
        "path": "status",
        "map": {
            "queued": "queued",
            "running": "in_progress",
            "succeeded": "completed",
            "failed": "failed",
            "cancelled": "failed",
            "expired": "failed",
        },
    },
    "video_url": ["content.video_url"],
    "error": {"code": ["error.code"], "message": ["error.message"]},
    "fields": {"model": ["model"], "seconds": ["duration"], "size": ["resolution"]},
    "times": {
        "created_at": "created_at",
        "completed_at": {"path": "updated_at", "only_when_terminal": True},
    },
    "url_lifetime_s": 86400,  # video_url "valid 24 hours"
    "pushes": "callback_url on every status change (unsigned; 3 retries)",
    "inbound": {"key": ["id"]},  # the task object (as polled; unverified for callbacks)
}

FAL: dict[str, Any] = {
    "docs": "fal.ai/docs/inference-api/queue/status; fal-ai/fal fal_client (Queued, InProgress, Completed)",
    "default_base_url": "https://queue.fal.run",
    "request": {"path": "/{id:path}/status", "auth": "key"},
    "id_pattern": "^(?:(?:workflows|comfy)/)?[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/requests/[0-9A-Fa-f-]{36}$",
    "id_hint": "<owner>/<app>/requests/<request_id> (the response_url after the queue's host)",
    # COMPLETED is also how a failed request ends: its status then has error and error_type.
    "status": {
        "path": "status",
        "map": {"IN_QUEUE": "queued", "IN_PROGRESS": "in_progress", "COMPLETED": "completed"},
        "failed_when_present": {"error": "error"},
    },
    "error": {"code": ["error_type"], "message": ["error"]},
    "follow_up": {
        "when": "completed",
        "request": {"path": "/{id:path}"},
        "read_errors": True,  # the result answers the model's own error (4xx) with its body
        "video_url": ["video.url"],
        "error": {"code": ["error_type", "detail[0].type"], "message": ["detail[0].msg", "detail"]},
    },
    "pushes": "webhook per request (ED25519, JWKS)",
    # {request_id, status: OK | ERROR, payload, error}
    "inbound": {
        "key": ["request_id"],
        "key_from_id": "/requests/(?P<key>[0-9A-Fa-f-]{36})$",
        "reads": {
            "status": {"path": "status", "map": {"OK": "completed", "ERROR": "failed"}},
            "video_url": ["payload.video.url"],
            "error": {"code": ["error_type", "payload.detail[0].type"], "message": ["error", "payload.detail[0].msg"]},
        },
    },
}

REPLICATE: dict[str, Any] = {
    "docs": "replicate.com/docs/topics/predictions/lifecycle; replicate-python Prediction",
    "default_base_url": "https://api.replicate.com",
    "request": {"path": "/v1/predictions/{id}", "auth": "bearer"},
    "id_pattern": "^[a-z0-9]{8,64}$",
    "id_hint": "the prediction id",
    "status": {
        "path": "status",
        "map": {
            "starting": "queued",
            "processing": "in_progress",
            "succeeded": "completed",
            "failed": "failed",
            "canceled": "failed",
            "aborted": "failed",
        },
    },
    "video_url": ["output", "output[0]"],  # a URL, or a list of URLs, depending on the model
    "error": {"message": ["error"]},
    "fields": {"model": ["model"]},
    "times": {
        "created_at": {"path": "created_at", "format": "iso8601"},
        "completed_at": {"path": "completed_at", "format": "iso8601"},
    },
    "url_lifetime_s": 3600,  # "output files ... are automatically removed after an hour"
    "pushes": "webhook per prediction (Standard Webhooks signing)",
    "inbound": {"key": ["id"]},  # the prediction object
}

OPENROUTER: dict[str, Any] = {
    "docs": "openrouter.ai/docs/guides/overview/multimodal/video-generation; API reference: videos",
    "default_base_url": "https://openrouter.ai",
    "request": {"path": "/api/v1/videos/{id}", "auth": "bearer"},
    "id_pattern": "^[A-Za-z0-9_-]{1,128}$",
    "id_hint": "the video job id (the end of its polling_url)",
    "status": {
        "path": "status",
        "map": {
            "pending": "queued",
            "in_progress": "in_progress",
            "completed": "completed",
            "failed": "failed",
            "cancelled": "failed",
            "expired": "failed",
        },
    },
    # unsigned_urls point at OpenRouter's content endpoint, which needs the key (a URL elsewhere does not)
    "video_url": ["unsigned_urls[0]"],
    "video_url_needs_key": True,
    "content_url": "/api/v1/videos/{id}/content",
    "error": {"message": ["error", "error.message"]},
    "pushes": "callback_url (signed: X-OpenRouter-Signature)",
    "inbound": {"object": "data", "key": ["data.id"]},  # {type: video.generation.*, data: the job}
}

BUILTIN: dict[str, dict[str, Any]] = {
    "openai": OPENAI,
    "gemini": GEMINI,
    "runway": RUNWAY,
    "luma": LUMA,
    "kling": KLING,
    "minimax": MINIMAX,
    "dashscope": DASHSCOPE,
    "ark": ARK,
    "fal": FAL,
    "replicate": REPLICATE,
    "openrouter": OPENROUTER,
}
