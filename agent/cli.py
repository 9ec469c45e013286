"""The ``infersight`` command: the core's ``config check``, ``plugins`` and ``--version``, plus every
subcommand that installed plugins contribute through ``infersight_add_commands``.

Exit codes: 0 fine, 1 the command found a problem (drift, violations, a failed
check), 2 bad input (a usage error, a missing or unreadable file, bad config).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NoReturn

from agent._agent import VERSION, Agent
from agent._config import Settings, resolve
from agent._errors import ConfigError, InputError, describe_exception
from agent._plugins import LoadedPlugin, PluginHost
from agent._redact import redact_data


class _StderrLog:
    """The host's logger while no agent runs: plugin load failures become one line on stderr."""

    def _line(self, event: str, **fields: Any) -> None:
        detail = ", ".join(f"{k}={v}" for k, v in fields.items())
        print(f"infersight: {event}: {detail}", file=sys.stderr)

    def error(self, event: str, **fields: Any) -> None:
        self._line(event, **fields)

    warning = error

    def info(self, event: str, **fields: Any) -> None:
        pass


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line (no usage dump) naming what was wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _check_config(path: str | None) -> tuple[Settings, list[LoadedPlugin], list[tuple[str, str]]]:
    """Resolve a config and run every plugin's validation of its own table, exporting nothing.

    The same ``configure_plugins`` step as ``agent.init``, on an agent whose exporter is
    off and whose data directory is a throwaway one.
    """
    settings = resolve(path)
    with tempfile.TemporaryDirectory() as tmp:
        checking = replace(
            settings,
            exporter={**settings.exporter, "type": "none"},
            agent={**settings.agent, "data_dir": tmp, "stderr_level": "off"},
        )
        agent = Agent(checking)
        try:
            agent.configure_plugins()
            return settings, agent.host.describe(), list(agent.host.load_errors)
        finally:
            agent.host.call("infersight_shutdown", agent=agent.context)
            agent.pipelines.shutdown(1.0)


def _cmd_config_check(args: argparse.Namespace) -> int:
    settings, plugins, errors = _check_config(args.file)
    redacted = settings.redacted()
    redacted["plugin_sections"] = redact_data(
        {k: v for k, v in settings.raw.items() if k not in redacted and k != "models"}
    )
    print(f"{args.file}: OK ({len(plugins)} plugins loaded)")
    print(json.dumps(redacted, indent=2, default=str))
    for name, error in errors:
        print(f"plugin {name!r} failed to load: {error}", file=sys.stderr)
    return 1 if errors else 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    _, plugins, errors = _check_config(args.config)
    for p in plugins:
        print(f"{p.name:28} {p.source:24} {', '.join(h.removeprefix('infersight_') for h in p.hooks)}")
    for name, error in errors:
        print(f"{name:28} {'FAILED TO LOAD':24} {error}")
    return 1 if errors else 0


def _plugin_host() -> PluginHost:
    """Every installed plugin (built-in and third-party), loaded but not configured, to add commands."""
    host = PluginHost(_StderrLog())
    host.load(None, (), True, ())
    return host


def build_parser(host: PluginHost | None = None) -> argparse.ArgumentParser:
    """The argument parser: core subcommands, then those the plugins of ``host`` add."""
    parser = _Parser(prog="infersight", description="Observability agent for ML models.")
    parser.add_argument("--version", action="version", version=f"infersight {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True, parser_class=_Parser)
    check = config_sub.add_parser("check", help="validate a config file (secrets are masked in the output)")
    check.add_argument("file")
    check.set_defaults(func=_cmd_config_check)

    plugins = sub.add_parser("plugins", help="list installed plugins, where each came from, and its hooks")
    plugins.add_argument("--config", default=None)
    plugins.set_defaults(func=_cmd_plugins)

    (host or _plugin_host()).call("infersight_add_commands", subparsers=sub)
    _name_commands(parser)
    return parser


def _name_commands(parser: argparse.ArgumentParser) -> None:
    """Give every (sub)command's arguments its name (``infersight schema infer``), for one-line errors."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.set_defaults(command_prog=sub.prog)
                _name_commands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``infersight`` console script."""
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["--version"]:  # answered without loading every plugin
        print(f"infersight {VERSION}")
        return 0
    args = build_parser().parse_args(given)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"{getattr(args, 'command_prog', 'infersight')}: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except (OSError, UnicodeDecodeError) as exc:
        where = getattr(exc, "filename", None)
        print(f"error: {describe_exception(exc)}" + (f" ({where})" if where else ""), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
