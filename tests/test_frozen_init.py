"""The model types keep every dataclass behaviour plugins rely on with the faster ``__init__``
(``bridgekit.frozen_init``): the same signature, defaults, fresh default factories,
immutability, equality, hashing, ``replace`` and pickling."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from dataclasses import dataclass, field

import pytest

from bridgekit import model
from bridgekit.frozen_init import faster_init, is_frozen_slotted_dataclass
from bridgekit.model import Contact, InboundMessage, IngestResult, RawDelivery

MODELS = [
    cls
    for cls in vars(model).values()
    if isinstance(cls, type) and cls.__module__ == model.__name__ and dataclasses.is_dataclass(cls)
]


def test_every_model_type_is_frozen_slotted_and_has_the_faster_init() -> None:
    assert len(MODELS) >= 15
    for cls in MODELS:
        assert is_frozen_slotted_dataclass(cls), cls
        assert cls.__init__.__module__ == model.__name__
        assert "_set_0" in cls.__init__.__globals__, f"{cls.__name__} kept the slow dataclass __init__"


def test_the_signature_is_the_dataclass_one() -> None:
    for cls in MODELS:
        expected = [
            (f.name, inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default)
            for f in dataclasses.fields(cls)
        ]
        params = list(inspect.signature(cls).parameters.values())
        assert [p.name for p in params] == [name for name, _ in expected], cls
        for param, (_name, default) in zip(params, expected, strict=True):
            if default is not inspect.Parameter.empty:
                assert param.default == default, (cls, param)


def test_positional_keyword_defaults_and_fresh_factories() -> None:
    sender = Contact("line_user", "U1")
    assert (sender.kind, sender.value, sender.name, sender.verified, sender.shared) == (
        "line_user",
        "U1",
        None,
        True,
        False,
    )
    first = InboundMessage(event_id="e1", sender=sender, thread_key="U1")
    second = InboundMessage("e2", sender, "U1", "hi", meta={"k": 1})
    assert first.meta == {}
    assert first.meta is not InboundMessage(event_id="e3", sender=sender, thread_key="U1").meta
    assert (second.text, second.meta, second.thread_refs) == ("hi", {"k": 1}, ())
    assert IngestResult().messages == ()


def test_wrong_arguments_fail_as_before() -> None:
    with pytest.raises(TypeError):
        Contact(kind="email")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Contact(kind="email", value="a@b.c", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Contact("email", "a@b.c", None, True, False, "extra")  # type: ignore[call-arg]


def test_still_immutable_equal_hashable_replaceable_and_picklable() -> None:
    contact = Contact(kind="email", value="minji@example.com", shared=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        contact.value = "other@example.com"  # type: ignore[misc]
    assert contact == Contact("email", "minji@example.com", shared=True)
    assert hash(contact) == hash(Contact("email", "minji@example.com", shared=True))
    renamed = dataclasses.replace(contact, name="Minji")
    assert (renamed.name, renamed.value) == ("Minji", contact.value)
    delivery = RawDelivery("acme", "POST", "/hooks/acme", {"a": "b"}, {}, b"{}")
    assert pickle.loads(pickle.dumps(delivery)) == delivery
    assert repr(contact).startswith("Contact(kind='email', value='minji@example.com'")


def test_only_frozen_slotted_dataclasses_without_post_init_are_accepted() -> None:
    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    @dataclass(frozen=True, slots=True)
    class Fine:
        x: int
        tags: list[str] = field(default_factory=list)

    for cls in (Mutable, NoSlots, Checked):
        with pytest.raises(TypeError):
            faster_init(cls)
    faster_init(Fine)
    assert Fine(1).tags == []
    assert Fine(1).tags is not Fine(2).tags
