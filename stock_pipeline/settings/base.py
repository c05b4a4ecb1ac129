"""What every settings section shares: the ``Section`` base and the constants that more
than one module of this package (or of the pipeline) reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

#: The market-data sources by name, for validating ``source.name`` and the watchlist without
#: importing the sources. The registry (``market_data/sources/registry.py``) holds what each
#: one is; a test keeps the two equal.
SOURCE_NAMES = ("yfinance", "sample", "csv", "alphavantage")


class Section(BaseModel):
    """A settings section: an unknown field is an error that names it, never ignored.

    Two declarations keep the fold caches (keyed by ``Settings.fingerprint``) of existing
    configurations when a section grows or a field is renamed:

    * ``fingerprint_omitted_at_default``: fields added after such caches existed; they are
      left out of the fingerprint while at their default (a non-default value still changes
      it). Never change such a field's default: configurations before and after would share
      a hash.
    * ``earlier_names``: earlier name -> field, for a renamed field. The earlier name is
      still accepted (YAML, ``with_changes``, the constructor), and the fingerprint keeps
      it, so the rename changes no hash.
    """

    model_config = ConfigDict(extra="forbid")

    fingerprint_omitted_at_default: ClassVar[tuple[str, ...]] = ()
    earlier_names: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        declared = [*cls.fingerprint_omitted_at_default, *cls.earlier_names.values()]
        unknown = [name for name in declared if name not in cls.model_fields]
        if unknown:
            raise TypeError(f"{cls.__name__} declares {unknown}, which are not its fields")

    @model_validator(mode="before")
    @classmethod
    def _accept_earlier_names(cls, data: Any) -> Any:
        return cls.with_field_names(data) if isinstance(data, Mapping) else data

    @classmethod
    def with_field_names(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with every earlier name replaced by its field's name; a ValueError
        naming both when both are given."""
        out = dict(values)
        for earlier, name in cls.earlier_names.items():
            if earlier in out:
                if name in out:
                    raise ValueError(f"{earlier} and {name} are the same setting: give one")
                out[name] = out.pop(earlier)
        return out

    def fingerprint_payload(self) -> dict[str, Any]:
        """The section's values as the fingerprint hashes them (see the class docstring)."""
        data = self.model_dump(mode="json")
        for name in self.fingerprint_omitted_at_default:
            if getattr(self, name) == type(self).model_fields[name].default:
                data.pop(name)
        for earlier, name in self.earlier_names.items():
            if name in data:
                data[earlier] = data.pop(name)
        return data
