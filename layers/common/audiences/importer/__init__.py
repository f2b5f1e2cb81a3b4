"""Applying an audience's complete member list: validate it whole, diff it with the last one applied,
apply the difference. One module per step of the pipeline:

- `messages`: what the queues carry (an upload's notification, a run, a re-confirmation, a chunk);
- `targets`: presigned URLs to upload files to;
- `records`: the activity record (begun once, ended once) and the audience's lease;
- `uploads` and `runs`: where a list comes from (one object whose key a dialect's layout names, or
  the source files of a window), each ending in
- `planning`: read and validate every row, diff with the last list (DataBucket's snapshot), plan
  the joiners and leavers as chunks of one changes object, queue a message per chunk;
- `applying`: each chunk through the one write path, counted once; the last advances the
  audience's state; one that cannot be applied fails the import, leaving its users in doubt;
- `reconfirm`: the last list's members qualified again as of now;
- `giving_up`: what the dead-letter queues' consumers end.

Every step may run again after a crash or a redelivery and still reach the same end: the record is
keyed by its input, the lease serializes an audience's imports, an older list than the one applied
is SKIPPED, nothing is applied unless the whole list is valid, the plan is recorded once, a change
applied twice is stale the second time, and the state advances only after the last chunk.
"""

from audiences.importer.applying import Plan, apply_chunk
from audiences.importer.giving_up import give_up, give_up_chunk
from audiences.importer.messages import (
    RECONFIRM_PREFIX,
    RUN_PREFIX,
    Chunk,
    Reconfirm,
    Run,
    Upload,
    Work,
    chunks,
    new_run_id,
    reconfirms,
    runs,
    source_key,
    uploads,
)
from audiences.importer.reconfirm import last_applied, process_reconfirm, request_reconfirm
from audiences.importer.records import AudienceBusy, activity, activity_record, note_failed_attempt
from audiences.importer.run_imports import first_run_id, process_run, run_id_of, run_record, runs_of, start_run
from audiences.importer.targets import (
    MAX_PARTS,
    MultipartTarget,
    UploadTarget,
    complete_multipart_upload,
    multipart_upload_target,
    source_upload_target,
    upload_target,
)
from audiences.importer.upload_imports import Located, UploadLayout, process

__all__ = [
    "MAX_PARTS",
    "RECONFIRM_PREFIX",
    "RUN_PREFIX",
    "AudienceBusy",
    "Chunk",
    "Located",
    "MultipartTarget",
    "Plan",
    "Reconfirm",
    "Run",
    "Upload",
    "UploadLayout",
    "UploadTarget",
    "Work",
    "activity",
    "activity_record",
    "apply_chunk",
    "chunks",
    "complete_multipart_upload",
    "first_run_id",
    "give_up",
    "give_up_chunk",
    "last_applied",
    "multipart_upload_target",
    "new_run_id",
    "note_failed_attempt",
    "process",
    "process_reconfirm",
    "process_run",
    "reconfirms",
    "request_reconfirm",
    "run_id_of",
    "run_record",
    "runs",
    "runs_of",
    "source_key",
    "source_upload_target",
    "start_run",
    "upload_target",
    "uploads",
]
