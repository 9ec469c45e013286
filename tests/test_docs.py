"""The README documents every hook and every telemetry name; the example configs are valid."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from agent import hookspecs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_hook_is_in_the_plugin_guide() -> None:
    guide = README.split("## Writing a plugin", 1)[1]
    hooks = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("infersight_")]
    assert hooks, "no hooks found"
    missing = [h for h in hooks if f"`{h}(" not in guide]
    assert not missing, f"hooks missing from the README's plugin guide: {missing}"


def test_the_readme_telemetry_table_is_the_generated_one() -> None:
    from agent.semconv import markdown_table

    section = README.split("<!-- semconv-table:start -->\n", 1)[1].split("<!-- semconv-table:end -->", 1)[0]
    assert section.strip() == markdown_table().strip(), "regenerate it: python -m agent.semconv"


def test_readme_quick_start_has_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quick)
    assert any("infersight demo" in c and "pip install" in c for c in commands)
    assert any("pytest" in c and "pip install -e '.[test]'" in c for c in commands)
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in ci.splitlines(), ".ci/run must run the README's test command exactly"


def test_the_plugin_guides_example_runs_exactly_as_printed(tmp_path: Path) -> None:
    import importlib.util

    guide = README.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    code = guide.split("This is a complete plugin", 1)[1].split("```python\n", 1)[1].split("\n```", 1)[0]
    path = tmp_path / "readme_row_limit.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("readme_row_limit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [fn for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)]
    assert len(tests) == 2
    for test in tests:
        test()
