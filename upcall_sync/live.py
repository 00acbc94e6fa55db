"""Which filtered GETs to make to read just the live state a plan needs.

Costs are counted in requests, and each choice takes the cheaper side:

- campaigns: one `?name=` GET per desired campaign, or one paged listing of the
  whole account. The first page of the listing (`links.last`) tells how many
  pages the listing costs; with a single desired campaign no probe is needed.
- from_number (write-only, a filter only): per distinct desired number, the
  `?from_number=` listing, or `?name=&from_number=` per campaign when that
  listing would be longer.
- numbers: `GET /campaigns/:id/numbers` for matched campaigns only.
- contacts: only for phones whose numbers are not already present as desired;
  per-phone `?phone=` GETs, or the whole list when that is fewer pages.

Independent requests run in parallel (`parallelism` threads). Nothing is read
about a campaign the manifests do not mention, except the listing `--prune`
needs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

from upcall_sync.client import Campaign, CampaignNumber, ListContact, UpcallClient
from upcall_sync.errors import ApiStatusError, PlanError, Problem
from upcall_sync.model import (
    Contact,
    DesiredCampaign,
    DesiredState,
    LiveCampaign,
    LiveContact,
    LiveNumber,
    LiveState,
)
from upcall_sync.normalize import lenient_phone, text, utc_second
from upcall_sync.plan import Matches, first_file, match_campaigns, phones_needing_contacts

log = logging.getLogger("upcall_sync.live")
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Reader:
    """Reads live state through one client with a bounded thread pool."""

    client: UpcallClient
    parallelism: int = 8

    def read(
        self,
        desired: DesiredState,
        campaigns: Sequence[DesiredCampaign],
        *,
        prune: bool = False,
    ) -> LiveState:
        state = LiveState()
        with ThreadPoolExecutor(max_workers=max(1, self.parallelism)) as pool:
            lists_f = pool.submit(self._contact_list_id, desired)
            live_campaigns, complete = self._campaigns(pool, campaigns, prune=prune)
            state.campaigns = live_campaigns
            state.complete_listing = complete
            matches = match_campaigns(campaigns, live_campaigns)
            numbers_f = {lc.id: pool.submit(self._numbers, lc.id) for _d, lc in matches.matched()}
            state.from_numbers = self._from_numbers(pool, matches)
            state.numbers = {cid: f.result() for cid, f in numbers_f.items()}
            state.contact_list_id = lists_f.result()
            phones = phones_needing_contacts(matches, state.numbers)
            if state.contact_list_id is not None and phones:
                state.contacts, state.contact_phones_read = self._contacts(
                    pool, state.contact_list_id, phones
                )
            else:
                state.contact_phones_read = set(phones)
        return state

    # -- campaigns ----------------------------------------------------------------

    def _campaigns(
        self, pool: ThreadPoolExecutor, campaigns: Sequence[DesiredCampaign], *, prune: bool
    ) -> tuple[list[LiveCampaign], bool]:
        names = sorted({c.name for c in campaigns if c.id is None})
        ids = sorted({c.id for c in campaigns if c.id is not None})
        if not prune and len(names) + len(ids) <= 1:
            return self._by_name(pool, names, ids), False
        pages = self.client.campaign_pages()
        first, items = next(pages)
        found = [campaign_from_api(c) for c in items]
        if not first.has_next:
            return found, True
        remaining_pages = (first.last - first.number) if first.last else None
        targeted = len(names) + len(ids)
        if prune or remaining_pages is None or remaining_pages <= targeted:
            for _page, more in pages:
                found.extend(campaign_from_api(c) for c in more)
            return found, True
        pages.close()
        return self._by_name(pool, names, ids), False

    def _by_name(
        self, pool: ThreadPoolExecutor, names: Sequence[str], ids: Sequence[str]
    ) -> list[LiveCampaign]:
        by_name = run_all(pool, lambda n: self.client.list_campaigns(name=n), names)
        by_id = run_all(pool, self._get_campaign, ids)
        seen: dict[str, LiveCampaign] = {}
        for group in by_name:
            for c in group:
                seen[c.id] = campaign_from_api(c)
        for maybe in by_id:
            if maybe is not None:
                seen[maybe.id] = campaign_from_api(maybe)
        return list(seen.values())

    def _get_campaign(self, campaign_id: str) -> Campaign | None:
        try:
            return self.client.get_campaign(campaign_id)
        except ApiStatusError as exc:
            if exc.status == 404:
                return None
            raise

    # -- from_number ----------------------------------------------------------------

    def _from_numbers(self, pool: ThreadPoolExecutor, matches: Matches) -> dict[str, set[str]]:
        wanted: dict[str, list[LiveCampaign]] = {}
        for d, lc in matches.matched():
            number = d.fields.get("from_number")
            if number:
                wanted.setdefault(number, []).append(lc)
        results = run_all(pool, lambda item: self._having_number(*item), list(wanted.items()))
        return dict(zip(wanted, results, strict=True))

    def _having_number(self, number: str, campaigns: list[LiveCampaign]) -> set[str]:
        """Ids of `campaigns` whose write-only from_number is `number`."""
        pages = self.client.campaign_pages(from_number=number)
        first, items = next(pages)
        ids = {c.id for c in items}
        if first.has_next:
            remaining = (first.last - first.number) if first.last else None
            if remaining is not None and remaining > len(campaigns):
                pages.close()
                for lc in campaigns:
                    found = self.client.list_campaigns(name=lc.name, from_number=number)
                    ids.update(c.id for c in found)
            else:
                for _page, more in pages:
                    ids.update(c.id for c in more)
        mine = {lc.id for lc in campaigns}
        return ids & mine

    # -- numbers and contacts ----------------------------------------------------------

    def _numbers(self, campaign_id: str) -> list[LiveNumber]:
        return [_number(n) for _p, items in self.client.number_pages(campaign_id) for n in items]

    def _contact_list_id(self, desired: DesiredState) -> str | None:
        lists = self.client.list_lists(name=desired.contact_list)
        exact = [x for x in lists if x.name == desired.contact_list]
        if len(exact) > 1:
            ids = ", ".join(x.id for x in exact)
            where = desired.contact_list_source
            raise PlanError(
                [
                    Problem(
                        where or first_file(desired),
                        "contact_list",
                        f"{len(exact)} contact lists are named {desired.contact_list!r} "
                        f"(ids {ids}); rename one in Upcall or choose another contact_list",
                    )
                ]
            )
        return exact[0].id if exact else None

    def _contacts(
        self, pool: ThreadPoolExecutor, list_id: str, phones: set[str]
    ) -> tuple[list[LiveContact], set[str] | None]:
        ordered = sorted(phones)
        if len(ordered) > 1:
            pages = self.client.contact_pages(list_id)
            first, items = next(pages)
            contacts = [_contact(c) for c in items]
            remaining = (first.last - first.number) if first.last else None
            if not first.has_next:
                return contacts, None
            if remaining is not None and remaining <= len(ordered):
                for _page, more in pages:
                    contacts.extend(_contact(c) for c in more)
                return contacts, None
            pages.close()
        found = run_all(pool, lambda p: self.client.list_contacts(list_id, phone=p), ordered)
        return [_contact(c) for group in found for c in group], set(ordered)


def run_all(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """fn over items in the pool, results in order; the first failure cancels the rest."""
    futures: list[Future[R]] = [pool.submit(fn, item) for item in items]
    if not futures:
        return []
    done, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for f in done:
        exc = f.exception()
        if exc is not None:
            for p in pending:
                p.cancel()
            raise exc
    return [f.result() for f in futures]


# -- API models to normalized live values -------------------------------------------


def campaign_from_api(c: Campaign) -> LiveCampaign:
    return LiveCampaign(
        id=c.id,
        name=c.name,
        status=c.status or "",
        instructions=text(c.instructions),
        pitch=text(c.pitch),
        language=text(c.language),
        start_datetime=utc_second(c.start_datetime) if c.start_datetime else None,
        end_datetime=utc_second(c.end_datetime) if c.end_datetime else None,
        updated_at=c.updated_at,
    )


def contact_of(c: CampaignNumber | ListContact) -> Contact:
    addr = c.address
    return Contact(
        phone=lenient_phone(c.phone),
        extension=text(c.extension),
        first_name=text(c.first_name),
        last_name=text(c.last_name),
        title=text(c.title),
        company=text(c.company),
        email=text(c.email),
        recipient=text(addr.recipient) if addr else "",
        line1=text(addr.line1) if addr else "",
        line2=text(addr.line2) if addr else "",
        city=text(addr.city) if addr else "",
        region=text(addr.region) if addr else "",
        postal_code=text(addr.postal_code) if addr else "",
        country=text(addr.country) if addr else "",
    )


def _number(n: CampaignNumber) -> LiveNumber:
    return LiveNumber(id=n.id, contact=contact_of(n), status=n.status or "")


def _contact(c: ListContact) -> LiveContact:
    return LiveContact(id=c.id, contact=contact_of(c))
