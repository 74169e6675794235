"""Strict YAML of user declarations: a key given twice is refused at its line, safe tags only."""

from __future__ import annotations

import pytest
import yaml

from agc.core.yamlsafe import load_unique


def test_distinct_keys_load_as_safe_load_does() -> None:
    text = "a: 1\nb: {c: [1, 2], d: .5}\nlist:\n  - {x: 1}\n  - {x: 2}\n"
    assert load_unique(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("xsec: 1\nlabels: {mass: 1}\nxsec: 2\n", 3, "xsec"),
        ("outer:\n  inner: 1\n  inner: 1\n", 3, "inner"),
        ("- {a: 1, a: 2}\n", 1, "a"),
        ("1: x\n1.0: y\n", 2, 1.0),  # equal keys of two spellings
    ],
)
def test_a_repeated_key_is_refused_at_its_line(text: str, line: int, key: object) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_unique(text)
    error = info.value
    assert isinstance(error, yaml.MarkedYAMLError)
    assert error.problem_mark is not None
    assert error.problem_mark.line + 1 == line
    assert f"duplicate key {key!r}" in str(error.problem)


def test_merge_keys_may_still_override() -> None:
    """A merge key (``<<``) is no repetition: the mapping's own key overrides the merged one."""
    data = load_unique("base: &b {xsec: 1, n: 3}\nsig:\n  <<: *b\n  xsec: 2\n")
    assert data["sig"] == {"xsec": 2, "n": 3}


def test_python_tags_are_refused() -> None:
    with pytest.raises(yaml.YAMLError, match="python/object"):
        load_unique("x: !!python/object/apply:os.system ['true']\n")
