"""factory_boy factories for the domain models; links come with their secret for redemption."""

from __future__ import annotations

import factory

from access.models import Invitation, generate_link_secret, hash_link_secret
from core.models import Application
from rooms.models import Room, RoomStatus


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"app-{n}")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    application = factory.SubFactory(ApplicationFactory)
    provider = "livekit"
    title = factory.Sequence(lambda n: f"Room {n}")
    status = RoomStatus.OPEN


class InvitationFactory(factory.django.DjangoModelFactory):
    """`InvitationFactory(...)` returns the Invitation; its secret is on `.secret` (tests only)."""

    class Meta:
        model = Invitation

    room = factory.SubFactory(RoomFactory)
    role = "guest"
    display_name = factory.Sequence(lambda n: f"Person {n}")
    secret = factory.LazyFunction(generate_link_secret)
    secret_hash = factory.LazyAttribute(lambda o: hash_link_secret(o.secret))

    @classmethod
    def _create(cls, model_class, *args, secret, **kwargs):
        invitation = super()._create(model_class, *args, **kwargs)
        invitation.secret = secret
        return invitation
