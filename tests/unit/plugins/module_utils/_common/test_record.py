"""Record, the value-object base every request, state, builder and action is made of."""

from __future__ import annotations

import copy
import pickle
from typing import ClassVar, List, Optional

import pytest

from ansible_collections.remotevirt.install.plugins.module_utils._common.record import Field, Record


class Console(Record):
    type: str
    listen: str = "127.0.0.1"
    password: Optional[str] = Field(None, in_repr=False)
    cards: List[str] = Field(factory=list)
    note: str = Field("", compare=False)
    KINDS: ClassVar[tuple] = ("vnc", "spice")


class Draft(Record, frozen=False):
    title: str
    lines: List[str] = Field(factory=list)


class Base(Record):
    name: str
    size: int = 0


class Child(Base):
    format: str = "qcow2"
    token: Optional[str] = Field(None, in_repr=False)


# -- fields, defaults and factories --------------------------------------------------------------------
def test_fields_are_the_annotations_in_order_without_class_variables():
    assert Console._fields == ("type", "listen", "password", "cards", "note")
    assert Console.KINDS == ("vnc", "spice")


def test_defaults_fill_what_is_not_given():
    console = Console("vnc")
    assert (console.type, console.listen, console.password, console.cards, console.note) == ("vnc", "127.0.0.1", None, [], "")


def test_positional_and_keyword_arguments_mix():
    assert Console("vnc", "0.0.0.0", password="pw") == Console(type="vnc", listen="0.0.0.0", password="pw")


def test_a_factory_makes_a_new_value_for_each_record():
    first, second = Console("vnc"), Console("vnc")
    first.cards.append("eth0")
    assert second.cards == [] and first.cards is not second.cards


def test_a_field_default_becomes_the_plain_class_attribute():
    """As with dataclasses: Console.password is None, not the Field; a required Field leaves no attribute."""
    assert Console.password is None and Console.listen == "127.0.0.1"
    assert "cards" not in Console.__dict__ and "type" not in Console.__dict__


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((), {}, "Console() missing required argument 'type'"),
        (("vnc", "a", None, [], "", "extra"), {}, "Console() takes 5 arguments but 6 were given"),
        (("vnc",), {"type": "spice"}, "Console() got multiple values for argument 'type'"),
        (("vnc",), {"colour": "red", "bogus": 1}, "Console() got unexpected argument(s) bogus, colour"),
    ],
)
def test_wrong_arguments_are_type_errors(args, kwargs, message):
    with pytest.raises(TypeError) as error:
        Console(*args, **kwargs)
    assert str(error.value) == message


# -- frozen or not ---------------------------------------------------------------------------------------
def test_records_are_frozen_by_default():
    console = Console("vnc")
    with pytest.raises(AttributeError, match="cannot assign to field 'listen' of Console"):
        console.listen = "0.0.0.0"
    with pytest.raises(AttributeError, match="cannot delete field 'listen' of Console"):
        del console.listen
    with pytest.raises(AttributeError, match="cannot assign"):
        console.other = 1
    assert console.listen == "127.0.0.1"


def test_frozen_records_hash_by_their_compared_values():
    assert hash(Child("a", token="x")) == hash(Child("a", token="x"))
    assert len({Base("a"), Base("a"), Base("b")}) == 2
    with pytest.raises(TypeError, match="unhashable type: 'list'"):  # as a frozen dataclass with a list
        hash(Console("vnc"))


def test_mutable_records_can_change_and_are_unhashable():
    draft = Draft("plan")
    draft.title = "other"
    draft.lines.append("one")
    assert draft == Draft("other", ["one"])
    del draft.title
    assert not hasattr(draft, "title")
    with pytest.raises(TypeError):
        hash(Draft("plan"))


# -- equality and repr ------------------------------------------------------------------------------------
def test_equality_ignores_fields_declared_compare_false():
    assert Console("vnc", note="made by run 1") == Console("vnc", note="made by run 2")
    assert Console("vnc") != Console("vnc", password="pw")


def test_records_of_other_classes_are_never_equal():
    assert Base("a") != Child("a") and Child("a") != Base("a")
    assert Base("a") != ("a", 0)
    assert Base("a").__eq__(("a", 0)) is NotImplemented


def test_repr_hides_in_repr_false_fields():
    """Secrets (passwords, kickstart content) are declared in_repr=False and never shown."""
    console = Console("vnc", password="s3cret-Pw", note="kept")
    shown = repr(console)
    assert shown == "Console(type='vnc', listen='127.0.0.1', cards=[], note='kept')"
    assert "s3cret-Pw" not in shown and "s3cret-Pw" not in str(console)
    assert "s3cret-Pw" not in repr([console]) and "s3cret-Pw" not in repr({"console": console})


def test_repr_names_nested_classes_by_their_qualified_name():
    class Inner(Record):
        value: int

    assert repr(Inner(1)).endswith("test_repr_names_nested_classes_by_their_qualified_name.<locals>.Inner(value=1)")


# -- with_changes -------------------------------------------------------------------------------------------
def test_with_changes_copies_and_leaves_the_original():
    console = Console("vnc", password="pw", note="n")
    changed = console.with_changes(listen="0.0.0.0")
    assert changed.__class__ is Console
    assert (changed.type, changed.listen, changed.password, changed.note) == ("vnc", "0.0.0.0", "pw", "n")
    assert console.listen == "127.0.0.1"
    assert changed.cards is console.cards  # a shallow copy, as dataclasses.replace


def test_with_changes_refuses_unknown_fields():
    with pytest.raises(TypeError, match="unexpected argument\\(s\\) colour"):
        Console("vnc").with_changes(colour="red")


def test_with_changes_keeps_the_subclass():
    child = Child("disk", 1, token="t")
    assert child.with_changes(size=2) == Child("disk", 2, token="t")


# -- inheritance -------------------------------------------------------------------------------------------
def test_subclass_fields_come_after_the_parents():
    assert Child._fields == ("name", "size", "format", "token")
    assert Child("disk", 1, "raw") == Child(name="disk", size=1, format="raw")
    assert Base._fields == ("name", "size"), "the parent is not changed by its subclass"


def test_subclass_inherits_what_is_hidden_and_hides_its_own():
    assert repr(Child("disk", token="t0k3n")) == "Child(name='disk', size=0, format='qcow2')"


def test_frozen_is_declared_per_class_not_inherited():
    """Each class says frozen=False itself: a subclass of a mutable record is frozen unless it says so too."""

    class Notes(Draft):
        author: str = "ops"

    class Sealed(Record):
        text: str

    class Opened(Sealed, frozen=False):
        pass

    with pytest.raises(AttributeError, match="cannot assign to field 'author' of Notes"):
        Notes("plan").author = "dev"
    opened = Opened("x")
    opened.text = "y"
    assert opened.text == "y"
    with pytest.raises(AttributeError):
        Sealed("x").text = "y"


def test_a_redeclared_parent_field_takes_the_subclass_options():
    class Parent(Record):
        secret: str = ""

    class Hidden(Parent):
        secret: str = Field("", in_repr=False)

    assert repr(Hidden("s3cret")) == "test_a_redeclared_parent_field_takes_the_subclass_options.<locals>.Hidden()"


def test_a_redeclared_parent_field_takes_the_subclass_default():
    class Parent(Record):
        size: int = 1

    class Bigger(Parent):
        size: int = 2

    assert Bigger().size == 2 and Parent().size == 1 and Bigger._fields == ("size",)


def test_a_redeclared_parent_field_is_shown_once():
    class Parent(Record):
        size: int = 1

    class Bigger(Parent):
        size: int = 2

    assert repr(Bigger()).endswith("Bigger(size=2)")


# -- copying ----------------------------------------------------------------------------------------------
def test_copies_and_pickles_are_equal():
    console = Console("vnc", password="pw", cards=["eth0"])
    assert copy.copy(console) == console
    deep = copy.deepcopy(console)
    assert deep == console and deep.cards is not console.cards
    assert pickle.loads(pickle.dumps(console)) == console


def test_a_field_default_given_by_keyword_is_the_same_as_given_positionally():
    """``Field(default=None)`` is the spelling type checkers read; both spellings mean one thing."""

    class Keyword(Record):
        secret: Optional[str] = Field(default=None, in_repr=False)

    class Positional(Record):
        secret: Optional[str] = Field(None, in_repr=False)

    assert Keyword.secret is Positional.secret is None
    assert repr(Keyword("s")).endswith("Keyword()") and Keyword().secret is None
