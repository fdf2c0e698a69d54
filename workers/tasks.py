"""RQ job functions, one per job kind in `contract.payloads`. RQ calls each with its payload's JSON arguments.

Manipulate jobs are usually computed ahead in a batch by `workers.batching`, which passes each job its outcome
as `prepared`; RQ's status, retry and result bookkeeping stays per job.
"""
from __future__ import annotations

import functools
from datetime import UTC, datetime

from rq import get_current_job

from contract import attributes
from contract.metrics import record_job_seconds
from contract.payloads import AttributePayload, GeneratePayload, ManipulatePayload
from model.attributes import AttributeDefinitionError
from model.images import to_uint8
from model.manipulation import NoSampleAccepted
from model.manipulation import generate as generate_faces
from workers import runtime
from workers.editing import Edit, EditOutcome, run_edits
from workers.errors import JobInputError
from workers.fitting import fit_classifier
from workers.photos import store_pngs


def _seconds_since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment.replace(tzinfo=moment.tzinfo or UTC)).total_seconds()


def reported(kind: str):
    """Record latency (queued to done, what the user waits); input errors become a user-facing message with
    no retry, crashes retried failures."""

    def wrap(function):
        @functools.wraps(function)
        def run(**arguments):
            job = get_current_job()
            try:
                return function(**arguments)
            except JobInputError as error:
                job.meta.update(error=error.message, error_status=error.status)
                job.save_meta()
                job.retries_left = 0  # the same input would fail again
                raise
            except Exception as error:
                job.meta.update(error=f"internal error ({type(error).__name__}): {error}", error_status=500)
                job.save_meta()
                raise
            finally:
                queued = job.enqueued_at or job.created_at
                if queued is not None:
                    record_job_seconds(job.connection, kind, max(_seconds_since(queued), 0.0))

        return run

    return wrap


@reported(ManipulatePayload.KIND)
def manipulate(prepared: EditOutcome | None = None, **arguments) -> dict:
    """`prepared`: this job's outcome when its batch already computed it."""
    env, job = runtime.current(), get_current_job()
    payload = ManipulatePayload.model_validate(arguments)
    outcome = prepared if prepared is not None else run_edits(env, [Edit(job.id, payload)])[job.id]
    if isinstance(outcome, JobInputError):  # no retry will come: the photo is not needed any more
        env.redis.delete(payload.upload)
    if isinstance(outcome, Exception):
        raise outcome
    env.redis.delete(payload.upload)  # only now: a job retried after its worker died mid-batch still has its photo
    return outcome


@reported(GeneratePayload.KIND)
def generate(**arguments) -> dict:
    env, job = runtime.current(), get_current_job()
    payload = GeneratePayload.model_validate(arguments)
    budget = env.settings.generate_budget_factor * payload.count
    try:
        faces = generate_faces(env.model, env.conditions(payload.conditions), payload.count, budget=budget,
                               seed=payload.seed)
    except NoSampleAccepted as error:
        raise JobInputError(str(error)) from error
    return {"results": store_pngs(env, job.id, list(to_uint8(faces.images))), "acceptance_rate": faces.acceptance}


@reported(AttributePayload.KIND)
def fit_attribute(**arguments) -> dict:
    env, job = runtime.current(), get_current_job()
    payload = AttributePayload.model_validate(arguments)
    if attributes.fitted_by(env.redis, payload.name) != job.id:  # deleted or posted again while this one waited
        env.redis.delete(*payload.upload_keys())
        raise JobInputError(superseded(env, payload.name), 409)
    try:
        classifier, examples = fit_classifier(env, payload)
    except (JobInputError, AttributeDefinitionError) as error:  # the version fails at once, without retries
        message = error.message if isinstance(error, JobInputError) else str(error)
        attributes.fail_version(env.redis, payload.name, job.id, message)
        env.redis.delete(*payload.upload_keys())
        raise JobInputError(message) from error
    except Exception as error:  # a crash fails the version only once no retry is left
        if not job.retries_left:
            attributes.fail_version(env.redis, payload.name, job.id, f"internal error: {error}")
        raise
    classifier.metadata.update(created_at=datetime.now(UTC).isoformat(), job_id=job.id, examples=examples)
    weights, info = classifier.to_bytes()
    current = attributes.finish_version(env.redis, payload.name, job.id, classifier.kind, classifier.metadata,
                                        weights, info)
    env.redis.delete(*payload.upload_keys())
    if not current:
        raise JobInputError(superseded(env, payload.name), 409)
    return {"results": [], "attribute": payload.name, "kind": classifier.kind, "metadata": classifier.metadata}


def superseded(env: runtime.Runtime, name: str) -> str:
    """Why a fit's result was discarded: its attribute was deleted, or posted again, while it ran."""
    record = attributes.get(env.redis, name)
    if record is None:
        return f"attribute {name!r} was deleted after this version was queued; its fit was discarded"
    return (f"attribute {name!r} was defined again (version {record.get('version')}, job {record.get('job_id')}) "
            f"after this version was queued; its fit was discarded")
