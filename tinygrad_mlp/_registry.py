"""One lookup for Keras' "by name, instance, class, config dict or callable" identifiers.

``activations``, ``initializers``, ``losses``, ``optimizers``, ``regularizers``
and ``constraints`` each expose ``get``/``serialize``/``deserialize``; a
module-level ``Registry`` holds what they share and each module's public
functions are thin uses of it (plus that module's genuine special cases):

* ``get(identifier)``: ``None`` (when ``accepts_none``), an instance of
  ``base``, a name (an exact class name, else a case-insensitive alias), a
  ``serialize`` dict, a subclass of ``base`` (instantiated with its defaults),
  or a callable (kept as is when ``callables``);
* ``serialize(obj)``: ``{'class_name': 'MaxNorm', 'config': obj.get_config()}``;
  with ``callables`` a named function is saved by its ``__name__``;
* ``deserialize(config, custom_objects)``: the inverse, ``cls.from_config(config)``.

>>> class Shape:
...     def get_config(self): return {}
...     @classmethod
...     def from_config(cls, config): return cls(**config)
>>> class Square(Shape): pass
>>> shapes = Registry("shape", Shape, {"Square": Square}, {"square": Square})
>>> type(shapes.get("SQUARE")).__name__, shapes.serialize(Square())
('Square', {'class_name': 'Square', 'config': {}})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Self


class Configurable:
    """What every object a ``Registry`` rebuilds shares: its constructor arguments
    are its config, ``cls.from_config(obj.get_config())`` builds it again, and
    its repr lists that config: ``MaxNorm(max_value=2, axis=0)``."""

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Rebuild from ``get_config()``'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ConfigEquality(Configurable):
    """A ``Configurable`` whose objects are equal when their class and config are."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        # the repr, since a config may hold lists (a constraint's axis)
        return hash((type(self).__name__, repr(self)))


# users' own classes and functions, by ``"package>Name"`` (and by plain name), registered
# with ``saving.register_keras_serializable``: found by every ``get``/``deserialize``
CUSTOM_OBJECTS: dict[str, Any] = {}


def registered(name: Any) -> Any:
    """The object registered under ``name`` (or None); never imports or runs anything."""
    return CUSTOM_OBJECTS.get(name) if isinstance(name, str) else None


class Registry:
    """Name/class/config lookup for one kind of object (``kind`` names it in errors).

    ``classes`` maps exact class names to classes (``base`` itself may be one of
    them: it is found, but not listed among the valid names); ``aliases`` maps
    lower-case names to classes or to zero-argument factories. Unknown names
    list the valid ones: ``sorted(aliases) + sorted(classes)`` joined by commas,
    or, with ``names_as_list``, as one sorted Python list (the constraint and
    regularizer modules' wording). ``string_configs=False`` makes ``deserialize``
    take only dicts. ``label`` replaces ``kind`` in the unknown-name
    message (``'loss function'``); ``expected`` completes the ``TypeError`` for
    an identifier of the wrong type and may mention ``{names}``.
    """

    def __init__(
        self,
        kind: str,
        base: type,
        classes: Mapping[str, type],
        aliases: Mapping[str, Callable[[], Any]] | None = None,
        *,
        label: str | None = None,
        expected: str = "",
        accepts_none: bool = False,
        callables: bool = False,
        names_as_list: bool = False,
        string_configs: bool = True,
        not_serializable: str | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.classes = dict(classes)
        self.aliases = dict(aliases or {})
        self.label = label or kind
        self.expected = expected
        self.accepts_none = accepts_none
        self.callables = callables
        self.names_as_list = names_as_list
        self.string_configs = string_configs
        # '{obj!r}' is filled with the object that cannot be serialized
        self.not_serializable = not_serializable or (
            f"Cannot serialize {kind} {{obj!r}}: expected a {base.__name__} instance "
            f"(subclass {base.__name__} and define get_config)"
            + (" or a named function" if callables else "")
        )

    # -- names ---------------------------------------------------------------

    def valid_names(self) -> list[str] | str:
        """The names ``get`` accepts, in the form the unknown-name error prints them."""
        classes = [name for name, cls in self.classes.items() if cls is not self.base]
        if self.names_as_list:
            return sorted(set(self.aliases) | set(classes))
        return ", ".join(sorted(self.aliases) + sorted(classes))

    def unknown(self, name: Any) -> ValueError:
        """``Unknown optimizer: 'adamm'. Valid names are: adagrad, adam, ...``"""
        shown = repr(name) if self.names_as_list else f"'{name}'"
        return ValueError(f"Unknown {self.label}: {shown}. Valid names are: {self.valid_names()}")

    def from_name(self, name: str) -> Any:
        """A new object for an exact class name, else for a case-insensitive alias, else for
        a name registered with ``saving.register_keras_serializable``."""
        maker = self.classes.get(name) or self.aliases.get(name.lower()) or registered(name)
        if maker is None:
            raise self.unknown(name)
        return maker()

    def class_for(self, name: Any, custom_objects: Mapping[str, Any] | None = None) -> type:
        """The class a config's ``class_name`` names (``custom_objects`` first)."""
        cls = (custom_objects or {}).get(name) or self.classes.get(name) or registered(name)
        if cls is None:
            alias = self.aliases.get(str(name).lower())
            # an alias that is a factory (regularizers' 'l1_l2') has no from_config
            if isinstance(alias, type):
                cls = alias
        if cls is None:
            raise self.unknown(name)
        return cls

    # -- get / serialize / deserialize ----------------------------------------

    def get(self, identifier: Any) -> Any:
        """See the module docstring; a wrong type raises ``TypeError``."""
        if identifier is None and self.accepts_none:
            return None
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self.from_name(identifier)
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, type) and issubclass(identifier, self.base):
            return identifier()
        if self.callables and callable(identifier):
            return identifier
        raise TypeError(
            f"Could not interpret {self.kind} identifier {identifier!r}: expected "
            + self.expected.format(names=self.valid_names())
        )

    def serialize(self, obj: Any) -> dict[str, Any] | str | None:
        """``{'class_name': type(obj).__name__, 'config': obj.get_config()}``."""
        if obj is None and self.accepts_none:
            return None
        if isinstance(obj, self.base):
            return {"class_name": type(obj).__name__, "config": obj.get_config()}
        name = getattr(obj, "__name__", None) if self.callables else None
        if name is None or name == "<lambda>":
            raise ValueError(self.not_serializable.format(obj=obj))
        return name

    def deserialize(
        self, config: dict[str, Any] | str | None, custom_objects: Mapping[str, Any] | None = None
    ) -> Any:
        """Inverse of ``serialize``; a string is looked up as by ``get``."""
        if config is None and self.accepts_none:
            return None
        if isinstance(config, str) and self.string_configs:
            if custom_objects and config in custom_objects:
                return self.get(custom_objects[config])
            return self.from_name(config)
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(
                f"deserialize expects {{'class_name': ..., 'config': {{...}}}}, received {config!r}"
            )
        cls = self.class_for(config["class_name"], custom_objects)
        return cls.from_config(dict(config.get("config") or {}))
