"""Item size: how many DynamoDB write units one poll's write costs, for typical jobs of both seed styles.

The item is built by the real `DynamoJobStore._to_item` from jobs read by the real `decide()` from answers
shaped like the seeds' (HingNet's Veo object, SkyEngine's sora-2 object). Its size follows DynamoDB's
published rules (attribute names count; strings by UTF-8 length; numbers ~1 byte per 2 significant digits
+ 1; maps and lists 3 bytes + 1 per element). A write costs one WRU per started KB (1,024 bytes), on the
table, and again on the `due` index (twice when the poll moves `due_at`, the index's sort key: delete and
put). The cost model (bench/cost.py) uses these figures.

    python -m bench.item_size
"""

from __future__ import annotations

import argparse
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.report import publish, table

NOW = 1_761_234_600.0
PROMPT = (
    "A slow dolly shot through a rain-soaked neon alley at night; a cat in a yellow raincoat walks toward the "
    "camera, reflections ripple in the puddles, steam rises from a noodle stall, shallow depth of field, "
    "cinematic lighting, 35 mm film grain, ambient city sounds and distant thunder."
)  # 300 characters: a typical text-to-video prompt


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value in wire form ({"S": ...}, {"N": ...}, ...)."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = Decimal(content).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + attribute_size(inner) + 1 for name, inner in content.items())
    if kind == "L":
        return 3 + sum(attribute_size(inner) + 1 for inner in content)
    raise ValueError(f"unsupported attribute type {kind}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def typical_jobs() -> dict[str, Any]:
    """(label, job) after a poll, read by decide() from seed-shaped answers."""
    from videohook.domain.models import Job
    from videohook.domain.polling import Answered, PollPolicy, decide

    policy = PollPolicy(base_s=10, max_age_s=21600, rand=lambda: 0.5)
    hingnet = "https://models.hingnet.com.cn"
    skyengine = "https://model-api.skyengine.com.cn"
    veo_id = "video_6f1c2d3e4b5a69788796a5b4c3d2e1f0"
    sora_id = "video_68f1a2b3c4d5e6f708192a3b4c5d6e7f"
    metadata = {"order": "42", "user": "u_1834"}
    veo = Job("hingnet", veo_id, duration=6, tracked_at=int(NOW) - 40, metadata=metadata, version=3, polls=2)
    sora = Job("skyengine", sora_id, tracked_at=int(NOW) - 40, metadata=metadata, version=3, polls=2)
    answers = {
        "HingNet / Veo 3.1 fast, in progress": (veo, hingnet, {"id": veo_id, "object": "video", "status": "in_progress",
            "model": "veo-3.1-fast-generate-preview", "progress": 45.5, "created_at": int(NOW) - 41}),
        "HingNet / Veo 3.1 fast, completed": (veo, hingnet, {"id": veo_id, "object": "video", "status": "completed",
            "model": "veo-3.1-fast-generate-preview", "progress": 100, "seconds": 6, "size": "1280x720",
            "created_at": int(NOW) - 41, "completed_at": int(NOW),
            "video_url": f"{hingnet}/v1/files/{veo_id}.mp4?expires=1761238200&sig=3f9a1c77e2b84d06a5c1f0e9d8b7a6c5"}),
        "SkyEngine / sora-2, in progress": (sora, skyengine, {"id": sora_id, "object": "video", "status": "in_progress",
            "model": "sora-2", "progress": 37, "seconds": "8", "size": "720x1280", "created_at": int(NOW) - 41}),
        "SkyEngine / sora-2, completed": (sora, skyengine, {"id": sora_id, "object": "video", "status": "completed",
            "model": "sora-2", "progress": 100, "seconds": "8", "size": "720x1280", "created_at": int(NOW) - 41,
            "completed_at": int(NOW), "expires_at": int(NOW) + 3600}),
        "SkyEngine / sora-2, in progress, 300-char prompt echoed": (sora, skyengine, {"id": sora_id, "object": "video",
            "status": "in_progress", "model": "sora-2", "progress": 37, "seconds": "8", "size": "720x1280",
            "created_at": int(NOW) - 41, "prompt": PROMPT}),
        "SkyEngine / sora-2, in progress, 1,000-char prompt echoed": (sora, skyengine, {"id": sora_id,
            "object": "video", "status": "in_progress", "model": "sora-2", "progress": 37, "seconds": "8",
            "size": "720x1280", "created_at": int(NOW) - 41, "prompt": (PROMPT * 4)[:1000]}),
    }  # fmt: skip
    return {
        label: decide(job, Answered(body), now=NOW, base_url=base, policy=policy).job
        for label, (job, base, body) in answers.items()
    }


def run(out_dir: Path | None = None) -> dict[str, Any]:
    from videohook.adapters.job_store import DynamoJobStore

    store = DynamoJobStore(None, "JobsTable", due_shards=16, retention_s=30 * 86400)
    rows, results = [], []
    for label, job in typical_jobs().items():
        size = item_size(store._to_item(job, now=NOW))
        in_index = "due_shard" in store._to_item(job, now=NOW)
        results.append({"job": label, "bytes": size, "table_wru": write_units(size), "in_due_index": in_index})
        rows.append([label, size, write_units(size), "yes" if in_index else "no (finished: left the index)"])
    text = table(["job after a poll", "item bytes", "WRU per write (table)", "in the due index"], rows)
    text += "\n\nOne WRU per started 1,024 bytes; a poll that moves due_at also writes the index twice (delete + put)."
    publish("item_size", {"items": results}, text, reproduce="python -m bench.item_size", out_dir=out_dir)
    return {"items": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="DynamoDB item size of typical jobs.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    run(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
