"""`manage.py replay_events`: reprocess failed events, or chosen ones by id, time range or status."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from webhooks.models import InboundEventStatus
from webhooks.services import inbound_event_process, inbound_events_enqueue, inbound_events_replay


def _when(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise CommandError(f"{value!r} is not an ISO 8601 time with a zone, e.g. 2026-11-22T10:00:00Z")
    return parsed


class Command(BaseCommand):
    help = "Put events back to pending and process them again (default: every failed event)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="InboundEvent ids (any status)")
        parser.add_argument("--since", type=_when, help="received at or after (ISO 8601)")
        parser.add_argument("--until", type=_when, help="received before (ISO 8601)")
        parser.add_argument(
            "--status",
            action="append",
            choices=InboundEventStatus.values,
            help="statuses to replay (repeatable; default failed)",
        )
        parser.add_argument("--queue", action="store_true", help="hand them to the workers instead of running here")

    def handle(self, *args, ids, since, until, status, queue, **options):
        chosen = inbound_events_replay(ids=ids, since=since, until=until, statuses=status)
        if queue:
            sent = inbound_events_enqueue(event_ids=chosen)
            self.stdout.write(f"{len(chosen)} event(s) pending again, {sent} queued")
            return
        outcomes: dict[str, int] = {}
        for event_id in chosen:
            outcome = inbound_event_process(event_id=event_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "nothing to do"
        self.stdout.write(f"replayed {len(chosen)} event(s): {summary}")
