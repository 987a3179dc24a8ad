"""The retention sweep: every hour, each hotel's rows past the ages its file sets are purged.

Owns: the periodic task (`open_retention`) and turning a hotel's `retention` (flows.Retention,
in days) into the store's cutoffs. The purge itself and what it never deletes (anything still
in work) are the store's (store/retention.py). Must never stop the server over a failed purge:
it is logged and tried again at the next sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog

from hotelbot.clock import Clock
from hotelbot.flows import Hotel, Hotels
from hotelbot.store import Cutoffs, PurgeReport, Store

log = structlog.get_logger(__name__)


def cutoffs_of(hotel: Hotel, now: datetime) -> Cutoffs:
    """The moments before which the hotel's rows of each kind go."""
    ages = hotel.retention
    return Cutoffs(inbound=now - timedelta(days=ages.inbound_days),
                   outbound=now - timedelta(days=ages.outbound_days),
                   requests=now - timedelta(days=ages.requests_days),
                   guests=now - timedelta(days=ages.guests_days))


async def purge_all(store: Store, hotels: Hotels, now: datetime) -> dict[str, PurgeReport]:
    """Purge every hotel once; returns what went, per hotel."""
    reports: dict[str, PurgeReport] = {}
    for hotel in hotels.hotels.values():
        numbers = [d.phone_number_id for d in hotel.departments.values()]
        report = await store.retention.purge(hotel.hotel_id, numbers, cutoffs_of(hotel, now))
        reports[hotel.hotel_id] = report
        if any((report.inbound, report.outbound, report.requests, report.guests)):
            log.info("retention_purged", hotel=hotel.hotel_id, inbound=report.inbound,
                     outbound=report.outbound, statuses=report.statuses,
                     requests=report.requests, guests_erased=report.guests)
    return reports


@asynccontextmanager
async def open_retention(
    store: Store, hotels: Callable[[], Hotels], clock: Clock, *, every: float = 3600.0
) -> AsyncIterator[None]:
    """Purge every `every` seconds (the first sweep after one period) until exit."""

    async def sweep_forever() -> None:
        while True:
            await clock.sleep(every)
            try:
                await purge_all(store, hotels(), clock.now())
            except Exception:
                log.exception("retention_failed")

    task = asyncio.create_task(sweep_forever(), name="retention")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
