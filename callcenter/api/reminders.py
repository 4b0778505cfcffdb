"""/v1/reminders: the booking system asks for a call before each lesson (scope reminders)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from callcenter.api.auth import Client, require
from callcenter.api.problems import ApiProblem
from callcenter.api.state import ApiState, api_state
from callcenter.api.submit import IdempotencyKey, owned_job, store_once
from callcenter.api.views import STORED_BEFORE, BulkItem, BulkResult, JobList, JobView
from callcenter.outbound.jobs import Job, NewJob
from callcenter.outbound.requests import (
    BulkReminders,
    ReminderChange,
    ReminderRequest,
    RequestRefused,
    moved_reminder,
    reminder_job,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/reminders", tags=["reminders"])
Caller = Annotated[Client, Depends(require("reminders"))]
State = Annotated[ApiState, Depends(api_state)]


@router.post("", status_code=201, response_model=JobView, responses=STORED_BEFORE)
async def submit(body: ReminderRequest, key: IdempotencyKey, response: Response,
                 client: Caller, state: State) -> JobView:
    """A reminder call for one lesson, placed the template's lead time before it starts."""
    new = reminder_job(state.site.spec, body, now=state.clock.now(), client=client.name,
                       idempotency_key=key)
    return JobView.of(await store_once(state, new, response, router.prefix))


@router.post("/bulk", status_code=201, response_model=BulkResult,
             responses={200: {"model": BulkResult, "description": "All stored before "
                                                                  "(same keys)"}})
async def submit_bulk(body: BulkReminders, response: Response, client: Caller,
                      state: State) -> BulkResult:
    """A day's lessons in one transaction: every reminder is stored, or none (422 names
    each refused item, 409 a reused key)."""
    now = state.clock.now()
    jobs: list[NewJob] = []
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(body.reminders):
        if item.idempotency_key in seen:
            errors.append((f"reminders[{i}].idempotency_key",
                           f"repeats reminders[{seen[item.idempotency_key]}]'s key — give "
                           "each lesson its own key"))
            continue
        seen[item.idempotency_key] = i
        try:
            jobs.append(reminder_job(state.site.spec, item, now=now, client=client.name,
                                     idempotency_key=item.idempotency_key))
        except RequestRefused as exc:
            errors += [(f"reminders[{i}].{f}", m) for f, m in exc.errors]
    if errors:
        raise RequestRefused(errors)
    stored = await state.store.submit_many(jobs)
    items = [BulkItem(index=i, idempotency_key=item.idempotency_key, created=created,
                      job=JobView.of(job))
             for i, (item, (job, created)) in enumerate(zip(body.reminders, stored,
                                                            strict=True))]
    made = sum(it.created for it in items)
    response.status_code = 201 if made else 200
    return BulkResult(created=made, existing=len(items) - made, items=items)


@router.get("", response_model=JobList)
async def by_lesson(client: Caller, state: State,
                    lesson_id: Annotated[str, Query(min_length=1, max_length=100)]) -> JobList:
    """The latest reminder of a lesson (an empty list if there is none)."""
    job = await state.store.by_external("reminder", lesson_id, client.name)
    return JobList(items=[JobView.of(job)] if job else [])


@router.get("/{job_id}", response_model=JobView)
async def get(job_id: uuid.UUID, client: Caller, state: State) -> JobView:
    return JobView.of(await owned_job(state, client, job_id, "reminder"))


@router.patch("/{job_id}", response_model=JobView)
async def move(job_id: uuid.UUID, body: ReminderChange, client: Caller,
               state: State) -> JobView:
    """The lesson moved (or its names changed): the call time follows; pending only."""
    job = await owned_job(state, client, job_id, "reminder")
    _pending(job, "changed")
    not_before, deadline, variables = moved_reminder(state.site.spec, job, body,
                                                     now=state.clock.now())
    job = await state.store.reschedule(job.id, not_before=not_before, deadline=deadline,
                                       variables=variables)
    return JobView.of(job)


@router.delete("/{job_id}", response_model=JobView)
async def cancel(job_id: uuid.UUID, client: Caller, state: State) -> JobView:
    """The lesson was cancelled: no call. Cancelling a cancelled reminder changes nothing."""
    job = await owned_job(state, client, job_id, "reminder")
    if job.state == "cancelled":
        return JobView.of(job)
    _pending(job, "cancelled")
    return JobView.of(await state.store.cancel(job.id, "lesson cancelled"))


def _pending(job: Job, what: str) -> None:
    if job.state != "pending":
        raise ApiProblem(409, "job-state", "The reminder cannot be changed",
                         f"the reminder is {job.state}, so it can no longer be {what} — "
                         "only pending reminders can")
