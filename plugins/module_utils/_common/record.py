# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Value objects without the class-creation cost of ``dataclasses``.

Modules reach the host as a zip of sources, so every class is created again on every task.
``@dataclass`` writes each class's methods as source and runs ``exec`` on it; a Record subclass
only reads its field names and defaults once, from its own annotations and class attributes,
and shares the generic methods below::

    class Graphics(Record):
        type: str
        listen: str = "127.0.0.1"
        password: Optional[str] = Field(default=None, in_repr=False)

Records are built positionally or by keyword, compare and hash by value, show a dataclass-like
repr, are immutable (unless declared with ``frozen=False``) and copy with ``with_changes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, Optional, Tuple, TypeVar

# Type checkers read a Record subclass as a dataclass (its constructor's signature, frozen fields);
# at runtime the decorator does nothing, and typing_extensions is not needed on hosts.
if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_options: Any) -> Callable[[type], type]:
        return lambda cls: cls


RecordT = TypeVar("RecordT", bound="Record")

_REQUIRED = object()  # marks a field without a default


class _FieldOptions:
    """What ``Field()`` declared for one field."""

    def __init__(self, default: Any, factory: Optional[Callable[[], Any]], compare: bool, in_repr: bool) -> None:
        self.default = default
        self.factory = factory
        self.compare = compare
        self.in_repr = in_repr


def Field(
    default: Any = _REQUIRED, factory: Optional[Callable[[], Any]] = None, compare: bool = True, in_repr: bool = True
) -> Any:
    """A field's default when a plain ``name: type = default`` is not enough: a ``factory``
    for mutable defaults, or the field left out of equality (``compare``) or repr (``in_repr``).

    Typed to return ``Any``, as ``dataclasses.field`` is, so ``password: Optional[str] =
    Field(default=None, in_repr=False)`` type-checks (the class attribute is replaced by its
    default). Give ``default`` by keyword: type checkers read only keywords of a field specifier."""
    return _FieldOptions(default, factory, compare, in_repr)


@dataclass_transform(frozen_default=True, field_specifiers=(Field,))
class Record:
    """Base of value objects: the annotated class attributes are the fields, parents' first."""

    _fields: ClassVar[Tuple[str, ...]] = ()
    _defaults: ClassVar[Dict[str, Any]] = {}
    _factories: ClassVar[Dict[str, Callable[[], Any]]] = {}
    _compared: ClassVar[Tuple[str, ...]] = ()
    _shown: ClassVar[Tuple[str, ...]] = ()
    _frozen: ClassVar[bool] = True

    def __init_subclass__(cls, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields, compared, shown = list(cls._fields), list(cls._compared), list(cls._shown)
        defaults, factories = dict(cls._defaults), dict(cls._factories)
        for name in _own_field_names(cls):
            options = _take_options(cls, name)
            if name not in fields:
                fields.append(name)
            # A field declared again takes this class's options only (a secret stays hidden).
            for chosen in (compared, shown):
                if name in chosen:
                    chosen.remove(name)
            defaults.pop(name, None)
            factories.pop(name, None)
            if options.factory is not None:
                factories[name] = options.factory
            elif options.default is not _REQUIRED:
                defaults[name] = options.default
            if options.compare:
                compared.append(name)
            if options.in_repr:
                shown.append(name)
        cls._fields, cls._compared, cls._shown = tuple(fields), tuple(compared), tuple(shown)
        cls._defaults, cls._factories, cls._frozen = defaults, factories, frozen
        if not frozen:
            # Mutable, so unhashable like a mutable dataclass. setattr: type checkers refuse a method
            # replaced by None in an assignment.
            setattr(cls, "__hash__", None)  # noqa: B010

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        if len(args) > len(cls._fields):
            raise TypeError("%s() takes %d arguments but %d were given" % (cls.__name__, len(cls._fields), len(args)))
        given = dict(zip(cls._fields, args))
        for name, value in kwargs.items():
            if name in given:
                raise TypeError("%s() got multiple values for argument %r" % (cls.__name__, name))
            given[name] = value
        values = {}
        for name in cls._fields:
            if name in given:
                values[name] = given.pop(name)
            elif name in cls._defaults:
                values[name] = cls._defaults[name]
            elif name in cls._factories:
                values[name] = cls._factories[name]()
            else:
                raise TypeError("%s() missing required argument %r" % (cls.__name__, name))
        if given:
            raise TypeError("%s() got unexpected argument(s) %s" % (cls.__name__, ", ".join(sorted(given))))
        self.__dict__.update(values)

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError("cannot assign to field %r of %s" % (name, type(self).__name__))
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if self._frozen:
            raise AttributeError("cannot delete field %r of %s" % (name, type(self).__name__))
        super().__delattr__(name)

    def _compared_values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared_values() == other._compared_values()

    def __hash__(self) -> int:
        return hash(self._compared_values())

    def __repr__(self) -> str:
        shown = ", ".join("%s=%r" % (name, getattr(self, name)) for name in self._shown)
        return "%s(%s)" % (type(self).__qualname__, shown)

    def with_changes(self: RecordT, **changes: Any) -> RecordT:
        """A copy with ``changes`` applied to the named fields."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)


def _own_field_names(cls: type) -> Tuple[str, ...]:
    """The fields ``cls`` itself declares; inherited ones came with the parent's tuples."""
    annotations = cls.__dict__.get("__annotations__", {})
    return tuple(name for name, annotation in annotations.items() if "ClassVar" not in str(annotation))


def _take_options(cls: type, name: str) -> _FieldOptions:
    """The options of field ``name``; a Field class attribute is replaced by its plain default, as dataclasses do."""
    value = cls.__dict__.get(name, _REQUIRED)
    if not isinstance(value, _FieldOptions):
        return _FieldOptions(value, None, True, True)
    if value.default is _REQUIRED:
        delattr(cls, name)
    else:
        setattr(cls, name, value.default)
    return value
