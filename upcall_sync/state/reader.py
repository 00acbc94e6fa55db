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

Independent requests run in parallel (the client's `parallelism` threads, one per
pooled connection). Nothing is read
about a campaign the manifests do not mention, except the listing `--prune`
needs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from upcall_sync.client import (
    Campaign,
    Listing,
    UpcallClient,
    submit_all,
)
from upcall_sync.core.matching import Matches, first_file, match_campaigns, phones_needing_contacts
from upcall_sync.core.model import (
    DesiredCampaign,
    DesiredState,
    LiveCampaign,
    LiveContact,
    LiveNumber,
    LiveState,
    OtherContact,
)
from upcall_sync.core.normalize import name_forms, name_key
from upcall_sync.core.stopcalls import guard_scope, guarded, recreate_retired
from upcall_sync.errors import ApiStatusError, ListsUnavailable, PlanError, Problem
from upcall_sync.state.rows import (
    campaign_from_api,
    known_contacts,
    live_list_contacts,
    live_numbers,
)

log = logging.getLogger("upcall_sync.state.reader")


@dataclass
class Reader:
    """Reads live state through one client, on its worker threads (`client.workers`:
    as many as its pooled connections)."""

    client: UpcallClient

    def read(
        self,
        desired: DesiredState,
        campaigns: Sequence[DesiredCampaign],
        *,
        prune: bool = False,
        guard: bool = True,
    ) -> LiveState:
        """What a plan of `campaigns` needs; with `guard`, the manifests' other campaigns
        a targeted plan pauses if they hold a do-not-call number (`stopcalls.guard_scope`)."""
        state = LiveState()
        with self.client.workers("read") as pool:
            lists_f = pool.submit(self._contact_list_id, desired)
            guards = guard_scope(desired, campaigns) if guard else []
            state.campaigns, state.complete_listing = self._campaigns(
                pool, [*campaigns, *guards], prune=prune
            )
            state.matches = matches = match_campaigns(campaigns, state.campaigns)
            watched = [lc for _d, lc in guarded(guards, state.campaigns, matches.claimed_ids())]
            state.numbers, state.from_numbers = self._numbers_and_from(pool, matches, watched)
            # a campaign retired for the do-not-call list is created anew: its numbers
            # are no longer there, so their contacts are looked up below
            state.matches = matches = recreate_retired(desired, matches, state.numbers)
            missing: ApiStatusError | None = None
            try:
                state.contact_list_id = lists_f.result()
            except ApiStatusError as exc:
                if exc.status != 404:
                    raise
                missing = exc
            phones = phones_needing_contacts(matches, state.numbers)
            if missing is not None and phones:
                raise ListsUnavailable(
                    f"{missing.method} {missing.url}: HTTP 404: this API has no contact "
                    f"lists, and {len(phones):,} phone(s) in the manifests are not in their "
                    "campaigns as written; upcall-sync adds numbers through a contact list, "
                    "so it cannot plan them",
                    method=missing.method,
                    url=missing.url,
                    status=404,
                )
            if state.contact_list_id is not None and phones:
                state.contacts, state.contact_phones_read = self._contacts(
                    pool, state.contact_list_id, phones
                )
            else:
                state.contact_phones_read = set(phones)
            if desired.manage_other_lists and phones:
                state.other_contacts = self._other_contacts(pool, state.contact_list_id, phones)
        return state

    def read_stops(self, desired: DesiredState) -> LiveState:
        """What the do-not-call stops need when no plan can be made (`stopcalls.guarded`
        over every manifest campaign): the campaigns the manifests name, unmatched, and
        the numbers of those that may dial."""
        state = LiveState()
        with self.client.workers("read") as pool:
            state.campaigns, _whole = self._campaigns(pool, desired.campaigns, prune=False)
            watched = [lc for _d, lc in guarded(desired.campaigns, state.campaigns, set())]
            state.numbers, _from = self._numbers_and_from(pool, Matches(), watched)
        return state

    # -- campaigns ----------------------------------------------------------------

    def _campaigns(
        self, pool: ThreadPoolExecutor, campaigns: Sequence[DesiredCampaign], *, prune: bool
    ) -> tuple[list[LiveCampaign], bool]:
        """By name, or the whole listing: whichever costs fewer requests."""
        names = sorted({c.name for c in campaigns if c.id is None})
        ids = sorted({c.id for c in campaigns if c.id is not None})
        if not prune and len(names) + len(ids) <= 1:
            return self._by_name(pool, names, ids), False
        listing = self.client.campaigns_listing()
        first, items = self.client.first_page(listing)
        remaining = (first.last - first.number) if first.last and first.has_next else None
        if not first.has_next or prune or remaining is None or remaining <= len(names) + len(ids):
            [found] = self.client.read_all(pool, [listing], [(first, items)])
            return [campaign_from_api(c) for c in found], True
        return self._by_name(pool, names, ids), False

    def _by_name(
        self, pool: ThreadPoolExecutor, names: Sequence[str], ids: Sequence[str]
    ) -> list[LiveCampaign]:
        # a server that stores names normalized finds them only by the normalized text
        asked = sorted({form for n in names for form in name_forms(n)})
        listings = [self.client.campaigns_listing(name=n) for n in asked]
        by_name = self.client.read_all(pool, listings) if listings else []
        by_id = submit_all(pool, self._get_campaign, ids)
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

    # -- numbers and from_number, read together -----------------------------------------

    def _numbers_and_from(
        self, pool: ThreadPoolExecutor, matches: Matches, watched: Sequence[LiveCampaign] = ()
    ) -> tuple[dict[str, list[LiveNumber]], dict[str, set[str]]]:
        """Every matched campaign's numbers and, per desired from_number, which of the
        matched campaigns have it (the API returns from_number only as a filter); and
        the numbers of the `watched` campaigns (ready ones a targeted plan leaves out,
        which it pauses if they hold a do-not-call number: `stopcalls.guard_scope`)."""
        matched = matches.matched()
        wanted: dict[str, list[LiveCampaign]] = {}
        for d, lc in matched:
            number = d.fields.get("from_number")
            if number:
                wanted.setdefault(number, []).append(lc)
        # each listing's rows lend the desired Contacts they equal (`live_numbers`)
        numbers_l = [
            self.client.number_rows(lc.id).with_pages(
                functools.partial(live_numbers, known=known_contacts(n.contact for n in d.numbers))
            )
            for d, lc in matched
        ]
        numbers_l.extend(self.client.number_rows(lc.id).with_pages(live_numbers) for lc in watched)
        read = [lc for _d, lc in matched] + list(watched)
        from_l = [self.client.campaigns_listing(from_number=n) for n in wanted]
        listings: list[Listing[Any]] = [*numbers_l, *from_l]
        firsts = self.client.first_pages(pool, listings)
        # A from_number listing longer than asking campaign by campaign is dropped for that.
        full: list[int] = list(range(len(numbers_l)))
        per_campaign: list[tuple[str, LiveCampaign]] = []
        for k, (number, lcs) in enumerate(wanted.items()):
            first = firsts[len(numbers_l) + k][0]
            remaining = (first.last - first.number) if first.last and first.has_next else None
            if first.has_next and (remaining is None or remaining > len(lcs)):
                per_campaign.extend((number, lc) for lc in lcs)
            else:
                full.append(len(numbers_l) + k)
        results = self.client.read_all(pool, [listings[i] for i in full], [firsts[i] for i in full])
        by_index = dict(zip(full, results, strict=True))
        numbers = {lc.id: by_index[i] for i, lc in enumerate(read)}
        from_numbers: dict[str, set[str]] = {}
        for k, (number, lcs) in enumerate(wanted.items()):
            mine = {lc.id for lc in lcs}
            found = by_index.get(len(numbers_l) + k)
            if found is not None:
                from_numbers[number] = {c.id for c in found} & mine
        checks = self.client.read_all(
            pool,
            [self.client.campaigns_listing(name=lc.name, from_number=n) for n, lc in per_campaign],
        )
        for (number, lc), found in zip(per_campaign, checks, strict=True):
            if any(c.id == lc.id for c in found):
                from_numbers.setdefault(number, set()).add(lc.id)
            else:
                from_numbers.setdefault(number, set())
        return numbers, from_numbers

    # -- the contact list ---------------------------------------------------------------

    def _contact_list_id(self, desired: DesiredState) -> str | None:
        want = name_key(desired.contact_list)
        lists = [
            x
            for form in name_forms(desired.contact_list)
            for x in self.client.list_lists(name=form)
        ]
        exact = list({x.id: x for x in lists if name_key(x.name) == want}.values())
        if len(exact) > 1:
            ids = ", ".join(x.id for x in exact)
            raise PlanError(
                [
                    Problem(
                        first_file(desired),
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
        """Per-phone GETs, or the whole list when that is fewer pages."""
        ordered = sorted(phones)
        if len(ordered) > 1:
            listing = self.client.contact_rows(list_id).with_pages(live_list_contacts)
            first, rows = self.client.first_page(listing)
            remaining = (first.last - first.number) if first.last and first.has_next else None
            if not first.has_next or (remaining is not None and remaining <= len(ordered)):
                [found] = self.client.read_all(pool, [listing], [(first, rows)])
                return found, None
        listings = [
            self.client.contact_rows(list_id, phone=p).with_pages(live_list_contacts)
            for p in ordered
        ]
        found_all = self.client.read_all(pool, listings)
        return [c for group in found_all for c in group], set(ordered)

    def _other_contacts(
        self, pool: ThreadPoolExecutor, managed: str | None, phones: set[str]
    ) -> list[OtherContact]:
        """manage_other_lists: the contacts of every other list at these phones."""
        lists = [x for x in self.client.list_lists() if x.id != managed]
        wanted = [(x, p) for x in lists for p in sorted(phones)]
        found = self.client.read_all(
            pool,
            [
                self.client.contact_rows(x.id, phone=p).with_pages(live_list_contacts)
                for x, p in wanted
            ],
        )
        return [
            OtherContact(c.id, c.contact, x.id, x.name)
            for (x, _p), group in zip(wanted, found, strict=True)
            for c in group
        ]
