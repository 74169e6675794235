"""YAML of user declarations read strictly: safe tags only, and no key given twice.

PyYAML's ``safe_load`` keeps the last of two equal keys of a mapping without a word, so a
declaration that repeats ``xsec:`` silently takes the second value. :class:`UniqueKeyLoader`
refuses it as a :class:`yaml.constructor.ConstructorError` that carries the line of the
repetition (``problem_mark``), as PyYAML's own syntax errors do.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

#: The tag of a YAML merge key (``<<: *anchor``), whose entries may be overridden on purpose.
_MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader refusing a mapping that gives one key twice (merge keys ``<<`` aside)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """The mapping of ``node``; ConstructorError at the second occurrence of a key."""
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader refuses the unhashable key itself
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}, first given on line {first_line[key]}",
                    key_node.start_mark,
                )
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def load_unique(text: str) -> Any:
    """The YAML document ``text`` (safe tags only) with every mapping's keys distinct.

    Raises:
        yaml.YAMLError: malformed YAML, an unsafe tag or a key given twice in one mapping
            (``problem_mark`` locates it).
    """
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass: safe tags only
