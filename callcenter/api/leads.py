"""/v1/leads: a new sign-up the sales queue calls back at once (scope leads)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from callcenter.api.auth import Client, require
from callcenter.api.state import ApiState, api_state
from callcenter.api.submit import IdempotencyKey, owned_job, store_once
from callcenter.api.views import STORED_BEFORE, JobView
from callcenter.outbound.jobs import Job
from callcenter.outbound.requests import LeadRequest, lead_job

__all__ = ["router"]

router = APIRouter(prefix="/v1/leads", tags=["leads"])
Caller = Annotated[Client, Depends(require("leads"))]
State = Annotated[ApiState, Depends(api_state)]


def _view(state: ApiState, job: Job) -> JobView:
    camp = state.site.spec.outbound.campaigns.get(job.campaign)
    return JobView.of(job, target_minutes=camp.target_minutes if camp else None)


@router.post("", status_code=201, response_model=JobView, responses=STORED_BEFORE)
async def submit(body: LeadRequest, key: IdempotencyKey, response: Response,
                 client: Caller, state: State) -> JobView:
    """A lead call due now; `target_at` is the campaign's speed-to-lead target."""
    new = lead_job(state.site.spec, body, now=state.clock.now(), client=client.name,
                   idempotency_key=key)
    return _view(state, await store_once(state, new, response, router.prefix))


@router.get("/{job_id}", response_model=JobView)
async def get(job_id: uuid.UUID, client: Caller, state: State) -> JobView:
    return _view(state, await owned_job(state, client, job_id, "lead"))
