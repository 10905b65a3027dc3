"""The configuration reference is rendered from the models, and the README carries it."""

from __future__ import annotations

import re
from pathlib import Path

from syncd.config import ConnectionConfig, SafeguardConfig, SourceConfig
from syncd.config_reference import markdown, rows

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_key_of_the_models_is_documented_with_its_default():
    keys = {key: (kind, default, text) for key, kind, default, text in rows()}
    for name in SourceConfig.model_fields:
        assert any(k.startswith(f"sources.<name>.{name}") for k in keys), name
    for name in ConnectionConfig.model_fields:
        assert any(k.startswith(f"connections.<name>.{name}") for k in keys), name
    for name, info in SafeguardConfig.model_fields.items():
        _kind, default, text = keys[f"connections.<name>.safeguards.{name}"]
        assert repr(info.default) in default and text
    assert keys["connections.<name>.base_url"][1] == "**required**"
    assert keys["connections.<name>.rules[].when[].in"][0] == "`list[str] \\| None`"


def test_the_readme_carries_the_current_reference():
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- reference:start -->\n(.*?)<!-- reference:end -->", text, re.S)
    assert block, "README.md lost its reference markers"
    assert block.group(1) == markdown(), (
        "README.md's configuration reference is stale: paste `syncd config reference` "
        "between the markers"
    )
